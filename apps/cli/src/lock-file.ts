import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** Another instance holds the lock, or the lock file cannot be written. */
export class LockError extends Error {}

export interface Lock {
  readonly path: string;
  /** Removes the file if it is still ours; never throws. */
  release(): void;
}

/**
 * `lock`: a PID file that also keeps a second instance with the same lock from starting. Created
 * exclusively; a file left by a process that is gone (a crash, kill -9) is stale and taken over.
 */
export function acquireLock(path: string): Lock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { path, release: () => releaseIfOurs(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new LockError(`lock: cannot create ${path}: ${(err as Error).message}`);
    }
    const holder = readPid(path);
    if (holder !== undefined && holder !== process.pid && alive(holder)) {
      throw new LockError(`lock: ${path} is held by process ${holder}; another mtaq instance with this lock file is running`);
    }
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // someone else removed it first: try again
    }
  }
  throw new LockError(`lock: could not take ${path}`);
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function releaseIfOurs(path: string): void {
  if (readPid(path) !== process.pid) return;
  try {
    unlinkSync(path);
  } catch {
    // gone already, or no longer ours to remove
  }
}
