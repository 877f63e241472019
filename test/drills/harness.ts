/**
 * Duplicate/loss drills for `mtaq delivery`: publish N messages to a private broker's outbox, run
 * the real delivery process against the drill sink, break something mid-run (kill -9 of delivery, a
 * broker restart or crash, closed AMQP connections, SIGTERM under a slow upstream, a frozen Redis),
 * let it recover, and count per message what arrived upstream, what ended in the failure queue and
 * what bounced. Used by `npm run drills` (test/drills/duplicates.ts, 3,000 messages per row) and by
 * the reduced table in test/delivery-duplicates.test.ts.
 *
 * Every drill environment has its own RabbitMQ node and Redis (killed and their files removed at
 * the end, or by a watchdog if this process dies first), every row its own queues and sink.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { startMtaq, writeConfig, type MtaqProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';
import { privatePort, RabbitNode, type QueueStats } from './rabbit-node.js';
import { DrillSink, tokenOfAddress } from './sink.js';
import { watchdog } from './watchdog.js';

export type Disruption =
  | 'kill9-delivery'
  | 'broker-restart'
  | 'broker-kill9'
  | 'close-connection'
  | 'sigterm-delivery'
  | 'redis-freeze';

export interface DrillKind {
  /** Short id, used in queue names, tokens and `--rows`. */
  readonly key: string;
  readonly title: string;
  readonly disruption: Disruption;
  /** Milliseconds the sink waits before answering the final dot. */
  readonly sinkDelayMs: number;
  /** Every recipient is refused (550) and asks for a FAILURE DSN; bounces are counted. */
  readonly bounce?: boolean;
}

export interface DrillRow extends DrillKind {
  readonly withMessageId: boolean;
}

export const DRILLS: readonly DrillKind[] = [
  { key: 'kill9', title: 'kill -9 of delivery, restart', disruption: 'kill9-delivery', sinkDelayMs: 20 },
  { key: 'broker-restart', title: 'broker graceful restart', disruption: 'broker-restart', sinkDelayMs: 20 },
  { key: 'broker-kill9', title: 'broker kill -9, restart', disruption: 'broker-kill9', sinkDelayMs: 20 },
  { key: 'close-conn-20', title: 'close_connection (sink 20 ms)', disruption: 'close-connection', sinkDelayMs: 20 },
  { key: 'close-conn-100', title: 'close_connection (sink 100 ms)', disruption: 'close-connection', sinkDelayMs: 100 },
  { key: 'sigterm-slow', title: 'SIGTERM under slow sink (500 ms), restart', disruption: 'sigterm-delivery', sinkDelayMs: 500 },
  { key: 'redis-freeze', title: 'Redis frozen (SIGSTOP ~5 s)', disruption: 'redis-freeze', sinkDelayMs: 20 },
  { key: 'dsn-kill9', title: 'DSN: 550 + NOTIFY=FAILURE, kill -9 of delivery', disruption: 'kill9-delivery', sinkDelayMs: 20, bounce: true },
];

/** Every drill with and without `message-id` in the JSON. */
export function drillRows(kinds: readonly DrillKind[] = DRILLS): DrillRow[] {
  return kinds.flatMap((kind) => [
    { ...kind, withMessageId: true },
    { ...kind, withMessageId: false },
  ]);
}

/** `kill9/id`, `kill9/noid`: how a row is named in `--rows` and in EXPECT_NO_DUPLICATES. */
export function rowId(row: DrillRow): string {
  return `${row.key}/${row.withMessageId ? 'id' : 'noid'}`;
}

export interface DrillSettings {
  /** Messages published per row. */
  readonly messages: number;
  /** A row that has not settled by then is cut off; the missing messages count as lost. */
  readonly rowTimeoutMs: number;
  /** The disruption happens once this share of the messages reached the sink. Default 1/3. */
  readonly triggerFraction?: number;
  /** How long Redis stays frozen. Default 5000. */
  readonly redisFreezeMs?: number;
  /** How long the broker stays down between stop (or kill) and start. Default 0. */
  readonly brokerDownMs?: number;
  /**
   * Upstream connections per delivery process (`smtp-connections-out`). Default 20. The shared
   * budget (`delivery-limits: * * connections=`) is twice that, like a two-process cluster: after a
   * kill -9 the dead process's leases stay in Redis for their TTL (15 s), and its successor works
   * with the other half meanwhile instead of stalling.
   */
  readonly connections?: number;
  /** `rabbitmq-qos`; default: mtaq's own (1000). */
  readonly prefetch?: number;
  /** Once the queues are drained, how long to wait for stragglers before cutting a row short. Default 10000. */
  readonly quietMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** When set, each row's delivery logs and per-message sink records are written here. */
  readonly dumpDir?: string;
}

export interface RowResult {
  readonly row: DrillRow;
  readonly published: number;
  /** Distinct messages that reached the sink. */
  readonly delivered: number;
  /** Distinct messages in the failure queue that were meant to fail (the DSN row's 550s). */
  readonly failedExpected: number;
  /** Published, neither delivered nor failed for a legitimate reason. */
  readonly lost: number;
  /** Arrivals beyond the first per message, plus (DSN row) bounces beyond one per message. */
  readonly duplicates: number;
  readonly deliveryDuplicates: number;
  readonly bounceDuplicates: number;
  /** Distinct originals with at least one bounce, and all bounces (DSN row). */
  readonly bouncedOriginals: number;
  readonly bounces: number;
  /** The sink got the dot, the client was gone before or while the 250 went out. */
  readonly dotNoReply: number;
  /** "250 read, then gone": a clean close within a second of the 250, nothing in between. */
  readonly hangupAfterReply: number;
  /**
   * Delivery duplicates neither explained by "dot sent, reply not read" nor by "250 read, then gone"
   * on an earlier arrival of the same message: per message, arrivals − 1 − those two. What a sender
   * could have avoided.
   */
  readonly unexplainedDuplicates: number;
  /** Messages in the failure queue that were not meant to fail (counted as lost unless delivered too). */
  readonly unexpectedFailures: number;
  /** From the first delivery start until every message settled and the queues drained. */
  readonly seconds: number;
  readonly timedOut: boolean;
  readonly lostTokens: readonly string[];
  readonly notes: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The drill's own AMQP client: reconnects on use after the broker went away. */
class DrillClient {
  #connection: ChannelModel | undefined;
  #channel: ConfirmChannel | undefined;

  constructor(private readonly url: string) {}

  async #open(): Promise<ConfirmChannel> {
    if (this.#channel && this.#connection) return this.#channel;
    const connection = await connect(this.url, { clientProperties: { connection_name: 'mtaq drill harness' } } as Parameters<typeof connect>[1]);
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.#connection === connection) {
        this.#connection = undefined;
        this.#channel = undefined;
      }
    });
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.#channel === channel) this.#channel = undefined;
    });
    this.#connection = connection;
    this.#channel = channel;
    return channel;
  }

  /** Runs `fn` on a live channel, reconnecting once if the first try finds the connection gone. */
  async #with<T>(fn: (channel: ConfirmChannel) => Promise<T>, attempts = 3): Promise<T> {
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await fn(await this.#open());
      } catch (err) {
        last = err;
        this.#channel = undefined;
        await this.#connection?.close().catch(() => undefined);
        this.#connection = undefined;
        await sleep(500);
      }
    }
    throw last;
  }

  /** Persistent publishes, confirmed by the broker, in batches. */
  async publish(queue: string, documents: readonly object[]): Promise<void> {
    await this.#with(async (channel) => {
      await channel.assertQueue(queue, { durable: true });
      for (let i = 0; i < documents.length; i += 500) {
        for (const document of documents.slice(i, i + 500)) {
          channel.sendToQueue(queue, Buffer.from(JSON.stringify(document)), { persistent: true, contentType: 'application/json' });
        }
        await channel.waitForConfirms();
      }
    }, 1);
  }

  /** Takes every message off a queue (the queue may not exist: then nothing). */
  async drain(queue: string): Promise<Array<Record<string, unknown>>> {
    return this.#with(async (channel) => {
      const out: Array<Record<string, unknown>> = [];
      for (;;) {
        const message = await channel.get(queue, { noAck: true });
        if (!message) return out;
        try {
          out.push(JSON.parse(message.content.toString('utf8')) as Record<string, unknown>);
        } catch {
          out.push({ unparsable: message.content.toString('utf8').slice(0, 200) });
        }
      }
    }).catch((err: Error) => {
      if (/NOT_FOUND/.test(err.message)) return [];
      throw err;
    });
  }

  /** Ready messages in a queue; undefined when it cannot be asked (broker down, no such queue). */
  async count(queue: string): Promise<number | undefined> {
    try {
      return await this.#with((channel) => channel.checkQueue(queue).then((q) => q.messageCount), 1);
    } catch {
      return undefined;
    }
  }

  async deleteQueues(queues: readonly string[]): Promise<void> {
    for (const queue of queues) await this.#with((channel) => channel.deleteQueue(queue).then(() => undefined)).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#connection?.close().catch(() => undefined);
    this.#connection = undefined;
    this.#channel = undefined;
  }
}

function redisCli(port: number, ...args: string[]): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('redis-cli', ['-p', String(port), ...args], { stdio: 'ignore' });
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
}

/** The MIME of drill message `token`: the sink finds the token in X-Drill-Id. */
function mimeOf(token: string, recipient: string): string {
  return [
    `From: <s-${token}@drill.test>`,
    `To: <${recipient}>`,
    `Subject: drill ${token}`,
    `Message-ID: <${token}@drill.test>`,
    `X-Drill-Id: ${token}`,
    '',
    `drill message ${token}`,
    'x'.repeat(600),
    '',
  ].join('\r\n');
}

/** A private broker and Redis shared by the rows of one drill run. */
export class DrillEnvironment {
  readonly run = randomBytes(3).toString('hex');
  #client: DrillClient;
  #redisFrozen = false;
  #closed = false;

  private constructor(
    readonly rabbit: RabbitNode,
    readonly redisPort: number,
    private redis: ChildProcess,
    private readonly log: (line: string) => void,
  ) {
    this.#client = new DrillClient(rabbit.url);
  }

  static async start(options: { log?: (line: string) => void } = {}): Promise<DrillEnvironment> {
    const log = options.log ?? (() => undefined);
    const rabbit = await RabbitNode.start({ log });
    let redis: ChildProcess | undefined;
    try {
      const redisPort = await privatePort([rabbit.port, rabbit.distPort]);
      redis = await startRedis(redisPort);
      if (redis.pid) watchdog(redis.pid);
      log(`redis up on ${redisPort}`);
      return new DrillEnvironment(rabbit, redisPort, redis, log);
    } catch (error) {
      redis?.kill('SIGKILL');
      await rabbit.destroy();
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
    if (this.redis.exitCode === null && this.redis.signalCode === null) {
      const exited = once(this.redis, 'exit');
      this.redis.kill('SIGCONT');
      this.redis.kill('SIGKILL');
      await exited;
    }
    await this.rabbit.destroy();
  }

  /** Runs one row; always leaves the broker, Redis and the environment ready for the next. */
  async runRow(row: DrillRow, settings: DrillSettings): Promise<RowResult> {
    const log = (line: string): void => (settings.log ?? this.log)(`[${rowId(row)}] ${line}`);
    const total = settings.messages;
    const tag = `${this.run}-${row.key}-${row.withMessageId ? 'id' : 'noid'}`;
    const outbox = `drill-${tag}`;
    const queues = { results: `${outbox}-results`, failure: `${outbox}-failure`, dsn: `${outbox}-dsn` };
    const sink = await DrillSink.start({ dataDelayMs: row.sinkDelayMs, reject: /^bounce-/i });
    const deliveries: MtaqProcess[] = [];
    const notes: string[] = [];
    let configFile: string | undefined;
    try {
      const tokens = Array.from({ length: total }, (_, n) => `${tag}-${n}`);
      const documents = tokens.map((token) => {
        const recipient = row.bounce ? `bounce-${token}@x.test` : `r-${token}@x.test`;
        return {
          ...(row.withMessageId ? { 'message-id': token } : {}),
          envelope: `s-${token}@drill.test`,
          recipient,
          mime: mimeOf(token, recipient),
          ...(row.bounce ? { dsn: { notify: 'FAILURE', ret: 'HDRS' } } : {}),
        };
      });
      const publishStart = Date.now();
      await this.#client.publish(outbox, documents);
      log(`published ${total} in ${Date.now() - publishStart} ms`);

      configFile = writeConfig(
        [
          `rabbitmq-address: ${this.rabbit.url}`,
          'rabbitmq-persistent: true',
          `rabbitmq-outbox: ${outbox}`,
          `rabbitmq-results: ${queues.results}`,
          `rabbitmq-failure: ${queues.failure}`,
          ...(row.bounce ? [`rabbitmq-dsn: ${queues.dsn}`] : []),
          'rabbitmq-reconnect-delay: 0.5',
          ...(settings.prefetch !== undefined ? [`rabbitmq-qos: ${settings.prefetch}`] : []),
          'smtp-sink-address: 127.0.0.1',
          `smtp-sink-port: ${sink.port}`,
          'smtp-default-ips: 127.0.0.1',
          `redis-address: redis://127.0.0.1:${this.redisPort}`,
          `smtp-connections-out: ${settings.connections ?? 20}`,
          `delivery-limits: * * connections=${2 * (settings.connections ?? 20)}`,
          'delivery-idle-timeout: 2',
          'retry-interval: 1',
          'log-level: info',
        ].join('\n'),
      );
      const file = configFile;
      const startDelivery = async (): Promise<MtaqProcess> => {
        const mtaq = await startMtaq('delivery', ['--config-file', file], { timeoutMs: 30000 });
        deliveries.push(mtaq);
        // a drill cut short (a test timeout) must not leave a delivery reconnecting to a dead broker
        if (mtaq.child.pid) watchdog(mtaq.child.pid);
        return mtaq;
      };

      const started = Date.now();
      const deadline = started + settings.rowTimeoutMs;
      let current = await startDelivery();
      const triggerAt = Math.max(1, Math.floor(total * (settings.triggerFraction ?? 1 / 3)));
      while (sink.progress < triggerAt && Date.now() < deadline) await sleep(5);
      log(`disruption ${row.disruption} at ${sink.progress}/${total} seen by the sink (${sink.arrivals} arrivals)`);
      const disruptionStart = Date.now();
      // how far the sink had got when the disruption took effect: all the way = nothing in flight
      let effect: number | undefined;
      const tookEffect = (): void => {
        effect ??= sink.progress;
      };
      switch (row.disruption) {
        case 'kill9-delivery':
          await current.stop('SIGKILL');
          tookEffect();
          current = await startDelivery();
          break;
        case 'sigterm-delivery': {
          tookEffect();
          const code = await current.stop('SIGTERM');
          notes.push(`SIGTERM exit ${code} after ${((Date.now() - disruptionStart) / 1000).toFixed(1)} s`);
          current = await startDelivery();
          break;
        }
        // rabbitmqctl takes about half a second per call, a graceful stop seconds: the sink holds its
        // replies until the broker side of the disruption took effect, so it always lands with the
        // transactions and prefetched messages of the moment in flight (then traffic goes on while
        // the broker is down, as an upstream would not wait for it)
        case 'broker-restart':
          sink.hold();
          try {
            await this.rabbit.stop();
            tookEffect();
          } finally {
            sink.release();
          }
          if (settings.brokerDownMs) await sleep(settings.brokerDownMs);
          await this.rabbit.boot();
          break;
        case 'broker-kill9':
          await this.rabbit.kill9();
          tookEffect();
          if (settings.brokerDownMs) await sleep(settings.brokerDownMs);
          await this.rabbit.boot();
          break;
        case 'close-connection': {
          sink.hold();
          let closed: number;
          try {
            closed = await this.rabbit.closeConnections(/^mtaq delivery/);
            tookEffect();
          } finally {
            sink.release();
          }
          if (closed === 0) notes.push('no delivery connection found to close');
          break;
        }
        case 'redis-freeze':
          this.redis.kill('SIGSTOP');
          this.#redisFrozen = true;
          tookEffect();
          await sleep(settings.redisFreezeMs ?? 5000);
          this.redis.kill('SIGCONT');
          this.#redisFrozen = false;
          break;
      }
      log(`disruption took effect at ${effect}/${total}, done in ${Date.now() - disruptionStart} ms; sink at ${sink.progress}/${total}`);
      if (effect !== undefined && effect >= total) notes.push('disruption took effect after every message had reached the sink: nothing was in flight');

      // settled: every message arrived (or, DSN row, failed and bounced) and nothing is left in the
      // outbox, its delay queues or unacked; or drained and quiet for `quietMs` (the rest is lost)
      const quietMs = settings.quietMs ?? 10000;
      let drainedSince: number | undefined;
      let timedOut = false;
      let stats: Map<string, QueueStats> | undefined;
      let lastCheck = 0;
      for (;;) {
        // cheap checks first (sink counters, AMQP queue counts); rabbitmqctl only when they pass
        // or every 2 s: each run of it costs about half a second of CPU
        const done = row.bounce
          ? ((await this.#client.count(queues.failure)) ?? 0) >= total && ((await this.#client.count(queues.dsn)) ?? 0) >= total
          : sink.delivered >= total;
        if (done || Date.now() - lastCheck >= 2000) {
          lastCheck = Date.now();
          stats = await this.rabbit.queues();
          const drained = stats !== undefined && pendingIn(stats, outbox) === 0;
          if (drained && done) break;
          if (drained) drainedSince ??= Date.now();
          else drainedSince = undefined;
          if (drainedSince !== undefined && Date.now() - drainedSince > quietMs) {
            notes.push(`queues drained but incomplete for ${quietMs / 1000} s`);
            break;
          }
        }
        if (Date.now() > deadline) {
          timedOut = true;
          stats = await this.rabbit.queues();
          notes.push(`timed out after ${settings.rowTimeoutMs / 1000} s; outbox+delay+unacked ${stats ? pendingIn(stats, outbox) : '?'}`);
          break;
        }
        await sleep(done ? 300 : 100);
      }
      const seconds = (Date.now() - started) / 1000;
      const stopCode = await current.stop('SIGTERM');
      if (stopCode !== 0) notes.push(`final SIGTERM exit ${stopCode}`);
      log(`settled in ${seconds.toFixed(1)} s; sink ${sink.delivered} delivered, ${sink.arrivals} arrivals, ${sink.dotNoReply} dot-no-reply`);

      // tallies per token
      const failures = await this.#client.drain(queues.failure);
      const bounces = row.bounce ? await this.#client.drain(queues.dsn) : [];
      const failed = new Map<string, number>();
      for (const document of failures) {
        const token = tokenOfAddress(String(document['recipient'] ?? ''));
        if (token) failed.set(token, (failed.get(token) ?? 0) + 1);
      }
      // A replayed conclusion republishes the same bounce (same Message-ID and copy id, which delivery
      // sends once): distinct bounces per original are what a sender would receive.
      const bounced = new Map<string, number>();
      const seenBounces = new Set<string>();
      let replayedBounces = 0;
      for (const document of bounces) {
        const token = tokenOfAddress(String(document['recipient'] ?? ''));
        const messageId = /^Message-ID:\s*(\S+)/im.exec(String(document['mime'] ?? ''))?.[1] ?? String(Math.random());
        if (seenBounces.has(`${token}|${messageId}`)) {
          replayedBounces++;
          continue;
        }
        seenBounces.add(`${token}|${messageId}`);
        if (token) bounced.set(token, (bounced.get(token) ?? 0) + 1);
      }
      let delivered = 0;
      let failedExpected = 0;
      let unexpectedFailures = 0;
      let bounceDuplicates = 0;
      let bouncedOriginals = 0;
      let missingBounces = 0;
      const lostTokens: string[] = [];
      for (const token of tokens) {
        const arrived = (sink.tokens.get(token)?.arrivals ?? 0) > 0;
        const failedCount = failed.get(token) ?? 0;
        if (arrived) delivered++;
        if (failedCount > 0 && row.bounce) failedExpected++;
        if (failedCount > 0 && !row.bounce) unexpectedFailures++;
        const bounceCount = bounced.get(token) ?? 0;
        if (bounceCount > 0) bouncedOriginals++;
        if (bounceCount > 1) bounceDuplicates += bounceCount - 1;
        if (row.bounce && failedCount > 0 && bounceCount === 0) missingBounces++;
        if (!arrived && !(row.bounce && failedCount > 0)) lostTokens.push(token);
      }
      const duplicateFailures = [...failed.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
      if (unexpectedFailures) {
        const sample = failures.find((d) => !row.bounce && d['results']);
        notes.push(`${unexpectedFailures} unexpected failure(s), e.g. ${JSON.stringify((sample?.['results'] as unknown[] | undefined)?.at(-1) ?? {})}`);
      }
      if (row.bounce) {
        notes.push(`bounces ${bounces.length - replayedBounces} distinct for ${bouncedOriginals} originals`);
        if (replayedBounces) notes.push(`${replayedBounces} identical bounce documents replayed (same Message-ID and copy id: sent once)`);
        if (missingBounces) notes.push(`${missingBounces} failed without a bounce`);
        if (duplicateFailures) notes.push(`${duplicateFailures} duplicate failure documents`);
      }
      if (sink.anonymous) notes.push(`${sink.anonymous} arrivals without a token`);
      if (sink.hangupAfterReply) notes.push(`250 read, then gone: ${sink.hangupAfterReply}`);
      const deliveryDuplicates = sink.duplicates;
      let unexplainedDuplicates = 0;
      for (const record of sink.tokens.values()) {
        if (record.arrivals > 1) unexplainedDuplicates += Math.max(0, record.arrivals - 1 - record.unread - record.hangups);
      }
      if (unexplainedDuplicates && unexplainedDuplicates !== deliveryDuplicates) notes.push(`${unexplainedDuplicates} duplicates unexplained by either`);
      if (settings.dumpDir) {
        const name = rowId(row).replace('/', '.');
        mkdirSync(settings.dumpDir, { recursive: true });
        deliveries.forEach((d, i) =>
          writeFileSync(join(settings.dumpDir!, `${name}.delivery-${i + 1}.log`), d.logs.map((l) => JSON.stringify(l)).join('\n') + '\n'),
        );
        writeFileSync(join(settings.dumpDir, `${name}.sink.json`), JSON.stringify(Object.fromEntries(sink.tokens), null, 1));
        writeFileSync(join(settings.dumpDir, `${name}.failures.json`), JSON.stringify([...failures, ...bounces], null, 1));
      }
      return {
        row,
        published: total,
        delivered,
        failedExpected,
        lost: lostTokens.length,
        duplicates: deliveryDuplicates + bounceDuplicates,
        deliveryDuplicates,
        bounceDuplicates,
        bouncedOriginals,
        bounces: bounces.length,
        dotNoReply: sink.dotNoReply,
        hangupAfterReply: sink.hangupAfterReply,
        unexplainedDuplicates,
        unexpectedFailures,
        seconds,
        timedOut,
        lostTokens: lostTokens.slice(0, 20),
        notes,
      };
    } finally {
      for (const mtaq of deliveries) await mtaq.stop('SIGKILL').catch(() => undefined);
      if (this.#redisFrozen) {
        this.redis.kill('SIGCONT');
        this.#redisFrozen = false;
      }
      await sink.close();
      await this.#cleanQueues(outbox, Object.values(queues)).catch((err: Error) => log(`queue clean-up failed: ${err.message}`));
      await redisCli(this.redisPort, 'FLUSHALL');
      if (configFile) rmSync(dirname(configFile), { recursive: true, force: true });
    }
  }

  /** Deletes a row's queues, its delay queues included; restarts the broker if it is not running. */
  async #cleanQueues(outbox: string, others: readonly string[]): Promise<void> {
    if (!this.rabbit.running) await this.rabbit.boot();
    const stats = await this.rabbit.queues();
    const delay = [...(stats?.keys() ?? [])].filter((name) => name.startsWith(`${outbox}.delay.`));
    await this.#client.deleteQueues([outbox, ...others, ...delay]);
  }
}

/** Messages of a row still to be handled: outbox and delay queues, ready or unacked. */
function pendingIn(stats: Map<string, QueueStats>, outbox: string): number {
  let n = 0;
  for (const [name, { ready, unacked }] of stats) {
    if (name === outbox) n += ready + unacked;
    else if (name.startsWith(`${outbox}.delay.`)) n += ready + unacked;
  }
  return n;
}

/**
 * Runs `rows` in one environment (a private broker and Redis), sequentially; a row that throws is
 * reported as an error row and the run goes on. Cleans up on SIGINT/SIGTERM too.
 */
export async function runDrills(rows: readonly DrillRow[], settings: DrillSettings): Promise<RowResult[]> {
  const log = settings.log ?? (() => undefined);
  const environment = await DrillEnvironment.start({ log });
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up`);
    void environment.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: RowResult[] = [];
  try {
    for (const row of rows) {
      try {
        results.push(await environment.runRow(row, settings));
      } catch (error) {
        log(`${rowId(row)} failed: ${(error as Error).stack ?? String(error)}`);
        results.push(errorResult(row, settings.messages, error as Error));
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await environment.close();
  }
  return results;
}

/** A row that could not run: everything counts as lost, the error is the note. */
export function errorResult(row: DrillRow, published: number, error: Error): RowResult {
  return {
    row,
    published,
    delivered: 0,
    failedExpected: 0,
    lost: published,
    duplicates: 0,
    deliveryDuplicates: 0,
    bounceDuplicates: 0,
    bouncedOriginals: 0,
    bounces: 0,
    dotNoReply: 0,
    hangupAfterReply: 0,
    unexplainedDuplicates: 0,
    unexpectedFailures: 0,
    seconds: 0,
    timedOut: false,
    lostTokens: [],
    notes: [`ERROR: ${error.message.split('\n')[0]}`],
  };
}

/** The results as a markdown table. */
export function markdownTable(results: readonly RowResult[]): string {
  const lines = [
    '| drill | message-id | published | delivered | failed (expected) | lost | duplicates | dot sent, reply not read | time (s) | notes |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    const duplicates = r.row.bounce ? `${r.duplicates} (bounces)` : String(r.duplicates);
    lines.push(
      `| ${r.row.title} | ${r.row.withMessageId ? 'yes' : 'no'} | ${r.published} | ${r.delivered} | ${r.failedExpected} | ${r.lost}${r.timedOut ? ' (timeout)' : ''} | ${duplicates} | ${r.dotNoReply} | ${r.seconds.toFixed(1)} | ${r.notes.join('; ').replace(/\|/g, '\\|')} |`,
    );
  }
  return lines.join('\n');
}
