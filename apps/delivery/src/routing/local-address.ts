/** Which addresses this host can send from. */

import { createServer } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { ipFamily, normalizeIp } from '@mtaq/net';

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * The §7.7 last-resort candidates: every non-internal address, IPv4 before IPv6 (most MXes and
 * most source setups are IPv4). IPv6 link-local is skipped: it cannot reach an MX and needs a
 * scope id to bind. Loopback is offered only on a host with nothing else, where it is the only
 * way to reach anything (typically a sink or smarthost on the same machine or in a test).
 */
export function localAddresses(table: InterfaceTable = networkInterfaces()): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const infos of Object.values(table)) {
    for (const info of infos ?? []) {
      if (info.internal) continue;
      const ip = normalizeIp(info.address);
      if (ipFamily(ip) === 4) v4.push(ip);
      else if (!/^fe[89ab]/i.test(ip)) v6.push(ip);
    }
  }
  const all = [...new Set([...v4, ...v6])];
  return all.length > 0 ? all : ['127.0.0.1'];
}

/** Wildcards and multicast bind fine but are no source address. */
function isSpecial(ip: string): boolean {
  if (ip === '0.0.0.0' || ip === '::') return true;
  if (ipFamily(ip) === 4) {
    const first = Number(ip.split('.')[0]);
    return first >= 224;
  }
  return /^ff/i.test(ip);
}

/**
 * True when a socket can be bound to `ip` here: the kernel's own answer, which also covers
 * addresses no interface lists (all of 127.0.0.0/8 on Linux, `ip_nonlocal_bind`, AnyIP routes).
 */
export function canBind(ip: string): Promise<boolean> {
  if (ipFamily(ip) === 0 || isSpecial(normalizeIp(ip))) return Promise.resolve(false);
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: ip, port: 0, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
