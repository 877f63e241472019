import { spawn } from 'node:child_process';

/**
 * Makes sure a process we started never outlives this one: a detached shell polls our pid and the
 * target; once we are gone (killed, crashed, interrupted before any `finally` ran) it sends SIGKILL
 * to the target — a process group when `group` is true — and removes `dir`. It ends by itself as
 * soon as the target is gone.
 */
export function watchdog(pid: number, options: { group?: boolean; dir?: string } = {}): void {
  const target = options.group ? `-${pid}` : String(pid);
  const cleanup = options.dir ? `; rm -rf '${options.dir.replace(/'/g, '')}'` : '';
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${target} 2>/dev/null; do sleep 1; done`,
    `if ! kill -0 ${process.pid} 2>/dev/null; then kill -9 ${target} 2>/dev/null${cleanup}; fi`,
  ].join('; ');
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
}
