/**
 * Drives the cluster of deploy/cluster/ from TypeScript: up.sh / down.sh with CLUSTER_* settings,
 * kill -9 of a piece by its PID file, HAProxy's view of the ingress servers, and the tally of a
 * drill run (accepted by the load client vs. what the drill sink saw). Used by drill.sh
 * (test/drills/cluster.ts) and the npm test smoke (test/cluster-smoke.test.ts).
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import type { LoadResult } from './cluster-load.js';
import type { DrillSink } from './sink.js';

export const CLUSTER_DIR = resolve(import.meta.dirname, '..', '..', 'deploy', 'cluster');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ScriptRun {
  readonly code: number;
  readonly output: string;
  readonly ms: number;
}

export class Cluster {
  readonly runDir: string;

  /** `env`: CLUSTER_* settings (ports, run directory, smarthost) on top of this process's environment. */
  constructor(
    readonly env: Record<string, string>,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.runDir = env['CLUSTER_RUN_DIR'] ?? join(CLUSTER_DIR, 'run');
  }

  get smtpPort(): number {
    return Number(this.env['CLUSTER_SMTP_PORT'] ?? 2600);
  }

  /** Runs a script of deploy/cluster with our settings; its output is passed to the log line by line. */
  script(name: string, args: string[] = [], extraEnv: Record<string, string> = {}): Promise<ScriptRun> {
    const started = Date.now();
    return new Promise((resolvePromise) => {
      const child = spawn('bash', [join(CLUSTER_DIR, name), ...args], {
        env: { ...process.env, ...this.env, ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const take = (d: Buffer): void => {
        output += d.toString();
        for (const line of d.toString().split('\n')) if (line.trim()) this.log(line);
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      child.on('close', (code) => resolvePromise({ code: code ?? 1, output, ms: Date.now() - started }));
    });
  }

  async up(names: string[] = [], extraEnv: Record<string, string> = {}): Promise<ScriptRun> {
    const run = await this.script('up.sh', names, extraEnv);
    if (run.code !== 0) throw new Error(`up.sh ${names.join(' ')} failed (${run.code}):\n${run.output.slice(-3000)}`);
    return run;
  }

  async down(purge = false): Promise<ScriptRun> {
    return this.script('down.sh', purge ? ['--purge'] : []);
  }

  pid(name: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.runDir, `${name}.pid`), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  alive(name: string): boolean {
    const pid = this.pid(name);
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    // a zombie (killed, not reaped yet: an init that reaps orphans late) is gone too
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  }

  /** SIGKILL to the piece's PID, waits until it is gone. */
  async kill9(name: string): Promise<void> {
    const pid = this.pid(name);
    if (pid === undefined) throw new Error(`no PID file for ${name}`);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && this.alive(name); i++) await sleep(50);
    this.log(`${name} (pid ${pid}) killed with SIGKILL`);
  }

  /** SIGTERM to the piece's PID, waits until it is gone (up to 30 s). */
  async stop(name: string): Promise<void> {
    const pid = this.pid(name);
    if (pid === undefined || !this.alive(name)) return;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 600 && this.alive(name); i++) await sleep(50);
  }

  /** HAProxy's operational state per ingress server (2 = running, 0 = stopped). */
  async haproxyStates(): Promise<Map<string, number>> {
    const text = await new Promise<string>((resolvePromise, reject) => {
      const socket = net.connect(join(this.runDir, 'haproxy.sock'));
      let out = '';
      socket.on('connect', () => socket.write('show servers state smtp_ingress\n'));
      socket.on('data', (d) => (out += d.toString()));
      socket.on('end', () => resolvePromise(out));
      socket.on('error', reject);
    });
    const states = new Map<string, number>();
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/);
      if (fields[1] === 'smtp_ingress' && fields[3]) states.set(fields[3], Number(fields[5]));
    }
    return states;
  }
}

export interface Tally {
  readonly accepted: number;
  readonly delivered: number;
  /** Accepted (250) and never seen by the sink. */
  readonly lost: number;
  readonly duplicatesByDelivery: number;
  readonly duplicatesByClientRetry: number;
  readonly retries: number;
  readonly retriesAfter451: number;
  readonly lostTokens: string[];
}

/**
 * Per token: a message the client retried after its dot may arrive once per try (the client's
 * duplicates); any arrival beyond that is delivery's.
 */
export function tally(load: LoadResult, sink: DrillSink, prefix: string): Tally {
  let delivered = 0;
  let byDelivery = 0;
  let byClient = 0;
  for (const [token, record] of sink.tokens) {
    if (!token.startsWith(`${prefix}-`) || record.arrivals === 0) continue;
    delivered++;
    const extra = record.arrivals - 1;
    const clientShare = Math.min(extra, load.retriedAfterDot.get(token) ?? 0);
    byClient += clientShare;
    byDelivery += extra - clientShare;
  }
  const lostTokens = [...load.accepted].filter((token) => !(sink.tokens.get(token)?.arrivals ?? 0));
  return {
    accepted: load.accepted.size,
    delivered,
    lost: lostTokens.length,
    duplicatesByDelivery: byDelivery,
    duplicatesByClientRetry: byClient,
    retries: load.retries,
    retriesAfter451: load.retriesAfter451,
    lostTokens,
  };
}

/**
 * Waits until every accepted token arrived at the sink (or `timeoutMs`), then `quietMs` more so
 * late duplicates are counted too.
 */
export async function settle(load: LoadResult, sink: DrillSink, timeoutMs: number, quietMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const missing = (): number => {
    let n = 0;
    for (const token of load.accepted) if (!(sink.tokens.get(token)?.arrivals ?? 0)) n++;
    return n;
  };
  while (missing() > 0 && Date.now() < deadline) await sleep(250);
  await sleep(quietMs);
}
