import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** Where Debian's `haproxy` package puts the binary (not on a non-root PATH), or undefined. */
export function haproxyBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    if (existsSync(candidate)) return candidate;
  }
  const found = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

export interface HaproxyRoute {
  /** Backend address (the ingress listener). */
  readonly target: { host: string; port: number };
  /** `send-proxy` (v1 text) or `send-proxy-v2` (binary). */
  readonly proxy: 'v1' | 'v2';
  /** Source address HAProxy connects to the backend from (the peer the ingress must trust). */
  readonly source?: string;
}

/**
 * A real HAProxy in TCP mode, one frontend per route on a free 127.0.0.1 port, each passing
 * connections to its backend with a PROXY header (`haproxy -f <cfg> -db`, in the foreground, so it
 * dies with the test). TLS passes through untouched, so an implicit-TLS listener can sit behind it.
 */
export class Haproxy {
  private constructor(
    private readonly child: ChildProcess,
    /** Frontend port per route, in the order given. */
    readonly ports: number[],
    private readonly output: () => string,
  ) {}

  static async start(routes: HaproxyRoute[], timeoutMs = 10000): Promise<Haproxy> {
    const binary = haproxyBinary();
    if (!binary) throw new Error('haproxy is not installed (Debian package "haproxy": apt-get install -y haproxy)');
    const ports: number[] = [];
    for (let i = 0; i < routes.length; i++) ports.push(await freePort());
    const lines = [
      'global',
      '  maxconn 256',
      'defaults',
      '  mode tcp',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
    ];
    routes.forEach((route, i) => {
      const send = route.proxy === 'v1' ? 'send-proxy' : 'send-proxy-v2';
      const source = route.source ? ` source ${route.source}` : '';
      lines.push(
        `frontend f${i}`,
        `  bind 127.0.0.1:${ports[i]}`,
        `  default_backend b${i}`,
        `backend b${i}`,
        `  server s${i} ${route.target.host}:${route.target.port} ${send}${source}`,
      );
    });
    const dir = mkdtempSync(join(tmpdir(), 'mtaq-haproxy-'));
    const file = join(dir, 'haproxy.cfg');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const child = spawn(binary, ['-f', file, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const proxy = new Haproxy(child, ports, () => output);
    const deadline = Date.now() + timeoutMs;
    // ready once every frontend accepts (a probe reaches the backend as a header and a close)
    for (const port of ports) {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}`);
        if (await accepts(port)) break;
        if (Date.now() > deadline) {
          await proxy.stop();
          throw new Error(`haproxy did not listen on ${port}:\n${output}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return proxy;
  }

  get log(): string {
    return this.output();
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
