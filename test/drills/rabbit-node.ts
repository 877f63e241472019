/**
 * A private RabbitMQ node for drills: a second `rabbitmq-server` on ports, node name, data and log
 * directories of its own, which a drill may restart gracefully, kill -9 and start again, or whose
 * client connections it may close — without touching the shared broker other tests use.
 *
 * Notes from this machine (Debian's rabbitmq-server 3.10, Erlang 25, 2 cores):
 * - `/usr/sbin/rabbitmq-server` run as root does `su rabbitmq`, which drops our environment; the
 *   script under `/usr/lib/rabbitmq/bin` is started directly instead, as the current user.
 * - `/etc/rabbitmq/rabbitmq.conf` binds 5672 (the shared broker's port): every private node gets a
 *   config file and an env file of its own so nothing is read from /etc.
 * - `rabbitmqctl` itself listens on 35672–35682 (its default distribution ports, derived from 5672)
 *   and every outgoing connection takes a port from 32768–60999, so the node's ports are drawn from
 *   20000–32000: a port of ours is never taken by a CLI run or a client while the node restarts.
 * - The CLI runs with a clean environment (HOME for the cookie only): given RABBITMQ_NODE_PORT it
 *   would derive its own ports from ours.
 * - A fresh node is up in about 5 s, a graceful `stop` takes about 2.5 s.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchdog } from './watchdog.js';

const SBIN = '/usr/lib/rabbitmq/bin';

function binary(name: string): string {
  const direct = join(SBIN, name);
  if (existsSync(direct)) return direct;
  throw new Error(`${direct} not found: install the Debian package rabbitmq-server`);
}

/** True when nothing listens on `port` at `host` (we could bind it). */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port below the ephemeral range and away from RabbitMQ's defaults, free on every interface. */
export async function privatePort(exclude: number[] = []): Promise<number> {
  const reserved = new Set([25672, 4369, 5672, ...exclude]);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (reserved.has(port)) continue;
    if ((await bindable(port, '0.0.0.0')) && (await bindable(port, '127.0.0.1'))) return port;
  }
  throw new Error('no free port in 20000-32000');
}

export interface QueueStats {
  ready: number;
  unacked: number;
}

export interface RabbitNodeOptions {
  /** How long a (re)start may take, ms. Default 60000. */
  startTimeoutMs?: number;
  /** Progress lines (start, stop, kill) go here. */
  log?: (line: string) => void;
  /** More `rabbitmq.conf` lines, after the node's own (no loopback limit, 50 MB disk limit, quiet console). */
  config?: readonly string[];
}

export class RabbitNode {
  readonly node: string;
  readonly port: number;
  readonly distPort: number;
  readonly url: string;
  readonly #dir: string;
  readonly #home: string;
  readonly #pidFile: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #options: RabbitNodeOptions;
  #child: ChildProcess | undefined;
  #output = '';

  private constructor(port: number, distPort: number, options: RabbitNodeOptions) {
    this.node = `mtaq-drill-${randomBytes(4).toString('hex')}@localhost`;
    this.port = port;
    this.distPort = distPort;
    this.url = `amqp://guest:guest@127.0.0.1:${port}/`;
    this.#options = options;
    this.#dir = mkdtempSync(join(tmpdir(), 'mtaq-drill-rabbit-'));
    this.#home = join(this.#dir, 'home');
    this.#pidFile = join(this.#dir, 'rabbit.pid');
    mkdirSync(this.#home);
    mkdirSync(join(this.#dir, 'mnesia'));
    mkdirSync(join(this.#dir, 'log'));
    writeFileSync(join(this.#home, '.erlang.cookie'), randomBytes(24).toString('hex').toUpperCase(), { mode: 0o400 });
    writeFileSync(join(this.#dir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.#dir, 'rabbitmq-env.conf'), '');
    writeFileSync(join(this.#dir, 'rabbitmq.conf'), ['loopback_users = none', 'disk_free_limit.absolute = 50MB', 'log.console = false', ...(options.config ?? []), ''].join('\n'));
    this.#env = {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      HOME: this.#home,
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(this.#dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.#dir, 'log'),
      RABBITMQ_PID_FILE: this.#pidFile,
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.#dir, 'enabled_plugins'),
      RABBITMQ_CONF_ENV_FILE: join(this.#dir, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(this.#dir, 'rabbitmq.conf'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** Starts a fresh node and waits until it accepts AMQP connections. */
  static async start(options: RabbitNodeOptions = {}): Promise<RabbitNode> {
    const port = await privatePort();
    const distPort = await privatePort([port]);
    const node = new RabbitNode(port, distPort, options);
    try {
      await node.boot();
    } catch (error) {
      await node.destroy();
      throw error;
    }
    return node;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The node's data directory (its queues' files are under it). */
  get dataDir(): string {
    return join(this.#dir, 'mnesia');
  }

  /** The Erlang VM's own pid (the spawned child is the start script's shell, which waits for it). */
  beamPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.#pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Spawns rabbitmq-server (in the foreground, its own process group) and waits for startup. */
  async boot(): Promise<void> {
    if (this.running) throw new Error(`${this.node} is already running`);
    const started = Date.now();
    rmSync(this.#pidFile, { force: true });
    this.#output = '';
    const child = spawn(binary('rabbitmq-server'), [], { env: this.#env, cwd: this.#dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const keep = (d: Buffer): void => {
      this.#output = (this.#output + d.toString()).slice(-20000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#child = child;
    // if this process dies before destroy() runs, the node and its directory go with it
    if (child.pid) watchdog(child.pid, { group: true, dir: this.#dir });
    const deadline = Date.now() + (this.#options.startTimeoutMs ?? 60000);
    for (;;) {
      if (!this.running) throw new Error(`rabbitmq-server ${this.node} exited (${child.exitCode ?? child.signalCode}):\n${this.#output.slice(-4000)}`);
      // fails at once while the node is not registered with epmd yet, then blocks until it is up
      const left = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
      const { code } = await this.ctl(['await_startup', '--timeout', String(left)], (left + 5) * 1000);
      if (code === 0) break;
      if (Date.now() > deadline) throw new Error(`rabbitmq-server ${this.node} did not start within the timeout:\n${this.#output.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    this.#options.log?.(`rabbitmq ${this.node} up on ${this.port} in ${Date.now() - started} ms`);
  }

  /** Graceful stop (`rabbitmqctl stop`, which waits for the VM to exit). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    const { code, output } = await this.ctl(['stop', this.#pidFile], 60000);
    if (code !== 0) throw new Error(`rabbitmqctl stop failed (${code}): ${output}`);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30000))]);
    if (this.running) await this.#killGroup();
  }

  /** Graceful restart: stop the node, optionally stay down `downMs`, start it again. */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.boot();
  }

  /** `kill -9` of the Erlang VM (not of the start script), then waits until everything exited. */
  async kill9(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const pid = this.beamPid();
    if (pid === undefined) throw new Error('no pid file: cannot find beam.smp');
    const exited = once(child, 'exit');
    process.kill(pid, 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10000))]);
    if (this.running) await this.#killGroup();
    this.#options.log?.(`rabbitmq ${this.node}: beam.smp ${pid} killed with SIGKILL`);
  }

  /** kill -9, optionally stay down `downMs`, start again (queues recovered from disk). */
  async crashRestart(downMs = 0): Promise<void> {
    await this.kill9();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.boot();
  }

  /** Client connections: broker pid and the client's `connection_name`. */
  async connections(): Promise<Array<{ pid: string; name: string }>> {
    const { code, output } = await this.ctl(['list_connections', '--no-table-headers', '--quiet', 'pid', 'client_properties']);
    if (code !== 0) throw new Error(`list_connections failed: ${output}`);
    const list: Array<{ pid: string; name: string }> = [];
    for (const line of output.split('\n')) {
      const pid = /^(<[^>]+>)/.exec(line.trim())?.[1];
      if (!pid) continue;
      const name = /connection_name"?,\s*(?:longstr,\s*)?"?([^"},\]]*)/.exec(line)?.[1] ?? '';
      list.push({ pid, name });
    }
    return list;
  }

  /** `rabbitmqctl close_connection` for every connection whose name matches; returns how many. */
  async closeConnections(match: RegExp, reason = 'drill: connection closed by the operator'): Promise<number> {
    let closed = 0;
    for (const { pid, name } of await this.connections()) {
      if (!match.test(name)) continue;
      const { code, output } = await this.ctl(['close_connection', pid, reason]);
      if (code !== 0) throw new Error(`close_connection ${pid} failed: ${output}`);
      closed++;
    }
    return closed;
  }

  /** `rabbitmqctl close_all_connections`. */
  async closeAllConnections(reason = 'drill: all connections closed by the operator'): Promise<void> {
    const { code, output } = await this.ctl(['close_all_connections', reason]);
    if (code !== 0) throw new Error(`close_all_connections failed: ${output}`);
  }

  /** Every queue with ready and unacknowledged counts; undefined when the node does not answer. */
  async queues(): Promise<Map<string, QueueStats> | undefined> {
    const { code, output } = await this.ctl(['list_queues', '--no-table-headers', '--quiet', 'name', 'messages_ready', 'messages_unacknowledged'], 15000);
    if (code !== 0) return undefined;
    const map = new Map<string, QueueStats>();
    for (const line of output.split('\n')) {
      const parts = line.trim().split(/\s+/);
      if (parts.length < 3) continue;
      const [name, ready, unacked] = parts as [string, string, string];
      if (!/^\d+$/.test(ready) || !/^\d+$/.test(unacked)) continue;
      map.set(name, { ready: Number(ready), unacked: Number(unacked) });
    }
    return map;
  }

  /** Runs rabbitmqctl against this node; never throws, resolves with exit code and output. */
  async ctl(args: string[], timeoutMs = 30000): Promise<{ code: number; output: string }> {
    // only HOME (the cookie): the CLI must not derive its own ports from the node's variables
    const env = { PATH: this.#env['PATH'], LANG: 'C.UTF-8', HOME: this.#home };
    const child = spawn(binary('rabbitmqctl'), ['-n', this.node, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    clearTimeout(timer);
    return { code: code ?? (signal ? 128 : 1), output };
  }

  /** Kills the node (whatever state it is in) and removes its directory. */
  async destroy(): Promise<void> {
    if (this.running) await this.#killGroup();
    const pid = this.beamPid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** SIGKILL to the process group we started (the start script, beam.smp and its helpers). */
  async #killGroup(): Promise<void> {
    const child = this.#child;
    if (!child?.pid || !this.running) return;
    const exited = once(child, 'exit');
    const pid = this.beamPid();
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }
}
