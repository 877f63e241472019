import type { Config } from '@mtaq/config';
import { isIp, normalizeIp } from '@mtaq/net';
import { localAddresses, type InterfaceTable } from '../routing/local-address.js';

export type OwnershipConfig = Pick<Config, 'smtp-default-ips' | 'ip-pools' | 'rabbitmq-outbox' | 'server-id'>;

/**
 * The source IPs this node owns: what its own configuration names, `smtp-default-ips` and the
 * members of its `ip-pools`; when it names none, every local address (§7.7's last resort). This is
 * configuration, not bindability: on one host every node can bind all of 127.0.0.0/8, and two
 * hosts with `ip_nonlocal_bind` could both bind an address only one of them routes. Pools in the
 * rule database are shared by every node, so they say which IPs make up a pool, not who owns them.
 */
export function ownedIps(config: Pick<Config, 'smtp-default-ips' | 'ip-pools'>, interfaces?: InterfaceTable): string[] {
  const named = [...config['smtp-default-ips'], ...[...config['ip-pools'].values()].flat()].filter((ip) => isIp(ip.trim()));
  const ips = named.length > 0 ? named : localAddresses(interfaces);
  return [...new Set(ips.map((ip) => normalizeIp(ip.trim())))];
}

/** The queue of mail that must leave from this node's IPs (declared like the outbox). */
export function nodeQueue(config: Pick<Config, 'rabbitmq-outbox' | 'server-id'>): string {
  return `${config['rabbitmq-outbox']}.node.${config['server-id']}`;
}

/** AMQP header counting how often a message was forwarded to another node's queue. */
export const HOPS_HEADER = 'x-mtaq-hops';

/** The hop count of a consumed message (0 when absent or unreadable). */
export function hopsOf(headers: Record<string, unknown> | undefined): number {
  const value = headers?.[HOPS_HEADER];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : 0;
  return Number.isInteger(n) && n > 0 ? n : 0;
}
