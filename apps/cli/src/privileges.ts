import { accessSync, chownSync, constants, mkdirSync, readFileSync } from 'node:fs';

/** `user` names no account, or the account cannot write what the process will write. */
export class PrivilegeError extends Error {}

/** Something the process writes after start-up, named by the key that sets it. */
export interface WrittenPath {
  readonly key: string;
  readonly path: string;
  /** A folder the process writes files into (created when missing), rather than a file. */
  readonly folder: boolean;
}

interface Account {
  readonly uid: number;
  readonly gid: number;
}

/**
 * `user`: gives up root once the ports are bound. Then checks, as that user, every path the process
 * will write, so a folder it cannot write is an error now, naming the key, not a failed delivery
 * hours later. `owned` (the lock file) is handed to the user first, so it can remove it at exit.
 */
export function dropPrivileges(user: string, writes: readonly WrittenPath[], owned: readonly string[] = [], group = ''): { uid: number; gid: number } | undefined {
  if (user === '') {
    if (group !== '') throw new PrivilegeError('group: only takes effect together with user');
    return undefined;
  }
  const own = lookup(user);
  const account = group === '' ? own : { uid: own.uid, gid: lookupGroup(group) };
  if (process.getuid?.() !== 0) {
    if (process.getuid?.() === account.uid) return account;
    throw new PrivilegeError(`user: cannot switch to "${user}": this process does not run as root (uid ${process.getuid?.()})`);
  }
  for (const path of owned) chownSync(path, account.uid, account.gid);
  (process as NodeJS.Process & { initgroups?(user: string, group: number): void }).initgroups?.(user, account.gid);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  for (const { key, path, folder } of writes) {
    try {
      if (folder) mkdirSync(path, { recursive: true });
      accessSync(path, constants.W_OK);
    } catch (err) {
      throw new PrivilegeError(`${key}: user "${user}" cannot write ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return account;
}

/** The gid of `group` (a name from /etc/group, or a number). */
function lookupGroup(group: string): number {
  const fields = entry('/etc/group', group);
  if (fields) return Number(fields[2]);
  if (/^\d+$/.test(group)) return Number(group);
  throw new PrivilegeError(`group: no such group "${group}"`);
}

/** Node has no getpwnam: the account comes from /etc/passwd (a numeric `user` is a uid). */
function lookup(user: string): Account {
  const fields = entry('/etc/passwd', user);
  if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  throw new PrivilegeError(`user: no such user "${user}"`);
}

/** The line of /etc/passwd or /etc/group whose name (or id, the third field) is `key`, split. */
function entry(file: string, key: string): string[] | undefined {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no such file: only numeric ids can be used
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === key || fields[2] === key) return fields;
  }
  return undefined;
}
