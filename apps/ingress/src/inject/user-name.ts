import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

let names: Map<number, string> | undefined;

/**
 * The account name of a uid, for the `spool.user` / `cli.user` properties: Node has no getpwuid,
 * so /etc/passwd is read once (accounts from NSS/LDAP only show as their number).
 */
export function userName(uid: number): string {
  try {
    const self = userInfo();
    if (self.uid === uid) return self.username;
  } catch {
    // a uid without an account
  }
  if (names === undefined) {
    names = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id !== undefined && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
      }
    } catch {
      // no /etc/passwd (a container without one)
    }
  }
  return names.get(uid) ?? String(uid);
}
