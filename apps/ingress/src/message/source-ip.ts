import type { CidrList } from '@mtaq/net';

/**
 * Reference §7.7, ingress side: mail received on a mappable local address leaves from that same
 * address. Mappable = inside `smtp-mappable-ips` and not inside `smtp-unmappable-ips`.
 */
export function mappedSourceIps(localIp: string, mappable: CidrList, unmappable: CidrList): string[] | undefined {
  if (!mappable.contains(localIp) || unmappable.contains(localIp)) return undefined;
  return [localIp];
}
