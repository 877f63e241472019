import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort } from './ports.js';

/** A private redis-server on `port` that a test may kill and restart (the shared one stays up). */
export async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
  });
  child.removeAllListeners('exit');
  child.stdout?.resume();
  return child;
}

export interface PrivateRedis {
  readonly port: number;
  /** For `redis-address`. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port, so nothing a test writes (sent markers, leases,
 * rate counters under `mtaq:`) ever lands in the shared Redis on 6379. Gone with everything in it
 * after `stop()`.
 */
export async function privateRedis(): Promise<PrivateRedis> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await startRedis(port);
    } catch (error) {
      // another process took the port between freePort and redis-server's bind: try another
      if (attempt < 4 && /address already in use/i.test(String(error))) continue;
      throw error;
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      },
    };
  }
}
