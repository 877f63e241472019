import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { QueueDeclarer } from '@mtaq/queue';
import { connect, delayQueueFor, parseOutgoing, resultEntry, withResult, type Client, type ConsumeContext, type Document, type Subscription } from '@mtaq/sdk';

/** AMQP header counting the transient failures a message has had in this worker. */
export const RETRY_HEADER = 'x-mtaq-worker-retries';

/** What the script gets besides the message. */
export interface ScriptContext {
  /** The input's id: its `message-id`, else the AMQP message-id, else a hash of the body. */
  readonly messageId: string;
  /** 1 on the first try, 2 after the first transient failure, … */
  readonly attempt: number;
  /** The broker delivered this message before (a worker died while holding it). */
  readonly redelivered: boolean;
  /** The queue the message came from. */
  readonly queue: string;
  /** The worker's logger (pino): `context.log.info({ rcpt }, 'tagged')`. */
  readonly log: Logger;
  /**
   * Marks a failure as transient and throws it: the message is tried again after worker-retry-delay,
   * at most worker-retries times, then goes to the failure queue. `throw context.retry(err)` reads well too.
   */
  retry(reason?: unknown): never;
}

export type Script = (message: Document, context: ScriptContext) => unknown;

/** A failure the script marked as passing: `context.retry(…)`, or any error with `transient: true`. */
export class TransientError extends Error {
  readonly transient = true;
}

/** A configuration that cannot work: one line for the operator, exit 78. */
export class WorkerConfigError extends Error {}

export interface WorkerQueues {
  readonly input: string;
  readonly output: string;
  readonly failure: string;
}

/** The worker's queues, or a WorkerConfigError saying why they cannot work. */
export function workerQueues(config: Config): WorkerQueues {
  const input = config['rabbitmq-inbox'];
  const output = config['rabbitmq-outbox'];
  if (input === '') throw new WorkerConfigError('rabbitmq-inbox is empty: the worker has no queue to read');
  if (output === '') throw new WorkerConfigError('rabbitmq-outbox is empty: the worker has no queue to write to');
  if (input === output) {
    throw new WorkerConfigError(
      `rabbitmq-inbox and rabbitmq-outbox both name the queue "${input}": the worker would read its own output; set rabbitmq-inbox: inbox (or --rabbitmq-inbox NAME)`,
    );
  }
  const failure = config['worker-failure-queue'] || `${input}.failed`;
  if (failure === input || failure === output) {
    throw new WorkerConfigError(`worker-failure-queue "${failure}" is the worker's input or output queue; name a queue of its own`);
  }
  return { input, output, failure };
}

/** Imports worker-script; its default export must be a function. */
export async function loadScript(file: string): Promise<Script> {
  if (file === '') throw new WorkerConfigError('no script: mtaq worker --script FILE (or worker-script: FILE)');
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
  } catch (err) {
    throw new WorkerConfigError(`cannot load worker script ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof module.default !== 'function') {
    throw new WorkerConfigError(`worker script ${file} has no default export function (export default async (message, context) => message)`);
  }
  return module.default as Script;
}

export interface WorkerCounts {
  received: number;
  forwarded: number;
  dropped: number;
  failed: number;
  retried: number;
}

export interface RunningWorker {
  readonly counts: WorkerCounts;
  /** Stops taking messages, lets those in flight finish (at most `graceMs`), disconnects. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * `mtaq worker`: rabbitmq-inbox → script → rabbitmq-outbox. The input is acknowledged only after
 * every output (or its failure/retry copy) was confirmed by RabbitMQ: at-least-once, and a copy
 * published twice after a crash carries the same `message-id` (input id + "." + index).
 */
export async function startWorker(config: Config, logger: Logger, script: Script): Promise<RunningWorker> {
  const queues = workerQueues(config);
  const log = logger.child({ component: 'worker' });
  const declare = config['rabbitmq-declare'];
  const retries = config['worker-retries'];
  const retryDelay = config['worker-retry-delay'];
  if (!config['rabbitmq-persistent'] && !config['rabbitmq-quorum']) {
    log.warn('rabbitmq-persistent is false: what the worker forwards is lost if RabbitMQ restarts before it is consumed');
  }
  const client: Client = await connect({
    url: config['rabbitmq-address'],
    exchange: config['rabbitmq-exchange'],
    durable: config['rabbitmq-durable'],
    quorum: config['rabbitmq-quorum'],
    lazy: config['rabbitmq-lazy'],
    maxPriority: config['rabbitmq-maxpriority'] ?? 0,
    outbox: config['rabbitmq-outbox'],
    persistent: config['rabbitmq-persistent'],
    gzip: config['rabbitmq-encoding'] === 'gzip',
    publishTimeout: config['rabbitmq-publish-timeout'],
    maxInFlight: config['rabbitmq-throttle'],
    reconnectDelay: config['rabbitmq-reconnect-delay'],
    declare: declare ? [queues.output, queues.failure] : [],
    name: `mtaq worker ${process.pid}`,
    logger,
  });
  const topology = client.topology([]);
  const declarer = new QueueDeclarer(client.broker, { exchange: topology.exchange, durable: topology.durable || topology.quorum });
  const counts: WorkerCounts = { received: 0, forwarded: 0, dropped: 0, failed: 0, retried: 0 };

  async function fail(document: Document, context: ConsumeContext, id: string, reason: string): Promise<void> {
    const failed = withResult(document, resultEntry('process', 'error', reason));
    await context.publish(queues.failure, failed, { messageId: id });
    counts.failed++;
    log.warn({ mid: id, queue: queues.failure, reason }, 'script failed; message put on the failure queue');
  }

  async function handle(document: Document, context: ConsumeContext): Promise<'ack'> {
    counts.received++;
    const headers = (context.raw.properties.headers ?? {}) as Record<string, unknown>;
    const done = Number(headers[RETRY_HEADER] ?? 0) || 0;
    const id = inputId(document, context.raw.properties.messageId as string | undefined, context.raw.content);
    const scriptContext: ScriptContext = {
      messageId: id,
      attempt: done + 1,
      redelivered: context.redelivered,
      queue: queues.input,
      log: log.child({ mid: id }),
      retry(reason?: unknown): never {
        const message = reason instanceof Error ? reason.message : String(reason ?? 'transient failure');
        throw new TransientError(message, { cause: reason });
      },
    };
    let returned: unknown;
    try {
      // the script may change what it gets; a failure copy shows the message as it came in
      returned = await script(structuredClone(document), scriptContext);
    } catch (err) {
      const reason = errorText(err);
      if (isTransient(err) && done < retries) {
        const delay = delayQueueFor(queues.input, retryDelay, topology);
        await declarer.ensure(delay.name, delay.arguments, delay.redeclareWithinMs);
        await context.publish(delay.name, document, { messageId: id, headers: { ...headers, [RETRY_HEADER]: done + 1 } });
        counts.retried++;
        log.warn({ mid: id, attempt: done + 1, retryIn: Math.ceil(retryDelay), reason }, 'transient script error; retrying later');
        return 'ack';
      }
      await fail(document, context, id, isTransient(err) ? `${reason} (gave up after ${done + 1} attempts)` : reason);
      return 'ack';
    }
    if (returned === null || returned === undefined || (Array.isArray(returned) && returned.length === 0)) {
      counts.dropped++;
      log.info({ mid: id, dropped: counts.dropped }, 'script dropped the message');
      return 'ack';
    }
    const outputs = Array.isArray(returned) ? returned : [returned];
    const bad = outputs.findIndex((o) => typeof o !== 'object' || o === null || Array.isArray(o));
    if (bad >= 0) {
      await fail(document, context, id, `script returned ${describe(outputs[bad])} where a message object (or null) was expected`);
      return 'ack';
    }
    // what leaves must be a message delivery (or the next worker) can use: a script's mistake is
    // caught here, with its reason, not later as process/invalid far from the script that made it
    const documents = outputs.map((output, index) => ({ ...(output as Document), 'message-id': `${id}.${index}` }));
    for (const [index, output] of documents.entries()) {
      try {
        parseOutgoing(output);
      } catch (err) {
        await fail(document, context, id, `script output ${index} is not a valid message: ${(err as Error).message}`);
        return 'ack';
      }
    }
    const sends = documents.map((output) => context.publish(queues.output, output, { messageId: output['message-id'] as string }));
    await Promise.all(sends);
    counts.forwarded += outputs.length;
    log.debug({ mid: id, forwarded: outputs.length }, 'forwarded');
    return 'ack';
  }

  const subscription: Subscription = await client.consume(queues.input, handle, {
    prefetch: config['rabbitmq-qos'] || 1000,
    concurrency: config['worker-concurrency'],
    declare,
    invalid: async (raw, error): Promise<'ack'> => {
      // not JSON: it can never succeed; kept as it came, with the reason in a header
      const id = (raw.properties.messageId as string | undefined) ?? hashId(raw.content);
      await client.publisher.publish(queues.failure, raw.content, {
        messageId: id,
        headers: { 'x-mtaq-error': error.message },
        ...(raw.properties.contentEncoding ? { contentEncoding: raw.properties.contentEncoding as string } : {}),
      });
      counts.failed++;
      log.warn({ mid: id, queue: queues.failure, reason: error.message }, 'message is no JSON object; put on the failure queue');
      return 'ack';
    },
  });
  log.info({ input: queues.input, output: queues.output, failure: queues.failure, concurrency: config['worker-concurrency'] }, 'working');
  return {
    counts,
    async stop(graceMs = 25_000) {
      await subscription.stop(graceMs);
      await client.close(graceMs);
      log.info({ ...counts }, 'worker stopped');
    },
  };
}

function isTransient(err: unknown): boolean {
  return err instanceof TransientError || (typeof err === 'object' && err !== null && (err as { transient?: unknown }).transient === true);
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  return text.replace(/\s+/g, ' ').trim() || 'script failed without a message';
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}

/** The input's id: its `message-id`, else the AMQP message-id, else derived from the body (still deterministic). */
export function inputId(document: Document, amqpId: string | undefined, body: Buffer): string {
  const own = document['message-id'];
  if (typeof own === 'string' && own !== '') return own;
  if (amqpId) return amqpId;
  return hashId(body);
}

function hashId(body: Buffer): string {
  return `h${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
}
