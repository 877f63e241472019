import type { ConsumeMessage } from 'amqplib';
import { decodeMessage, encodeMessage } from '@mtaq/envelope';
import { silentLogger, type Logger } from '@mtaq/log';
import { Broker, Consumer, declareTopology, Publisher, type Disposition, type TopologyOptions } from '@mtaq/queue';

/** A queue document: the typed properties of @mtaq/envelope plus whatever else a producer put there. */
export type Document = Record<string, unknown>;

export interface ConnectOptions {
  /** Broker URL(s), as `rabbitmq-address`; default `amqp://guest:guest@localhost/`. */
  readonly url?: string | readonly string[];
  /** `rabbitmq-exchange`; default '' (the default exchange). */
  readonly exchange?: string;
  /** The queue arguments mtaq declares with (`rabbitmq-durable`, `-quorum`, `-lazy`, `-maxpriority`). Must match, or RabbitMQ answers PRECONDITION_FAILED. */
  readonly durable?: boolean;
  readonly quorum?: boolean;
  readonly lazy?: boolean;
  readonly maxPriority?: number;
  /** `rabbitmq-outbox`: under quorum it is declared with mtaq's delivery limit and dead-letter queue. */
  readonly outbox?: string;
  /** delivery-mode 2 (default true: mail on a queue should survive a broker restart). */
  readonly persistent?: boolean;
  /** Compress every publish (`content-encoding: gzip`), as `rabbitmq-encoding: gzip`. Default false. */
  readonly gzip?: boolean;
  /** Seconds to wait for a publish confirm (default 60). */
  readonly publishTimeout?: number;
  /** Most unconfirmed publishes in flight (default 100). */
  readonly maxInFlight?: number;
  /** Queues to declare on every (re)connect; more with {@link Client.declare}. */
  readonly declare?: readonly string[];
  /** Shown in the RabbitMQ management UI. */
  readonly name?: string;
  /** A pino logger (`createLogger` of @mtaq/log); default: silent. */
  readonly logger?: Logger;
  /** First reconnect delay in seconds (doubles up to 30). Default 1. */
  readonly reconnectDelay?: number;
}

export interface PublishDocumentOptions {
  /** AMQP message-id; default the document's `message-id`, if any. */
  readonly messageId?: string;
  /** Overrides the client's `gzip` for this message. */
  readonly gzip?: boolean;
  readonly priority?: number;
  readonly headers?: Record<string, unknown>;
}

export interface ConsumeContext {
  /**
   * Publishes with confirms, like {@link Client.publish}, and ties the publish to this message: it is
   * acknowledged only after every such publish was confirmed (whether the handler awaited it or not).
   */
  publish(queue: string, document: object, options?: PublishDocumentOptions): Promise<void>;
  /** The AMQP delivery (properties, headers, redelivered flag). */
  readonly raw: ConsumeMessage;
  /** True when the broker delivered this message before (a consumer died or requeued it). */
  readonly redelivered: boolean;
  /** Aborted when the channel the message came on closes: the broker will redeliver it. */
  readonly signal: AbortSignal;
}

/**
 * What happens to the input once the handler is done: `ack` (also `undefined`), `requeue` (back on
 * the queue, redelivered later) or `drop` (rejected without requeue: gone, or to the queue's
 * dead-letter exchange if it has one).
 */
export type Handler = (document: Document, context: ConsumeContext) => Promise<Disposition | void> | Disposition | void;

export interface ConsumeOptions {
  /** Unacknowledged messages the broker may hand over at once (default 100). */
  readonly prefetch?: number;
  /** Handlers running at once (default 1). */
  readonly concurrency?: number;
  /** Milliseconds before a message whose handler threw is requeued (default 1000). */
  readonly requeueDelayMs?: number;
  /**
   * A body that is not JSON (or not valid gzip): by default logged and dropped, since it can never
   * succeed and a requeue would spin on it. Return another disposition to keep it.
   */
  readonly invalid?: (raw: ConsumeMessage, error: Error) => Promise<Disposition> | Disposition;
  /** Declare the queue first (default true). */
  readonly declare?: boolean;
}

export interface Subscription {
  /** Stops taking messages, lets handlers in flight finish (at most `graceMs`, default 30 s), closes the channel. */
  stop(graceMs?: number): Promise<void>;
  /** Messages whose handler is running or waiting for a concurrency slot. */
  readonly inFlight: number;
}

/**
 * One connection to RabbitMQ (reconnecting on its own), a confirm channel for publishing and any
 * number of consumers: the building blocks `mtaq worker` is made of.
 */
export class Client {
  readonly broker: Broker;
  readonly publisher: Publisher;
  readonly #options: ConnectOptions;
  readonly #log: Logger;
  readonly #queues = new Set<string>();
  readonly #subscriptions = new Set<Subscription>();

  private constructor(options: ConnectOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    for (const queue of options.declare ?? []) this.#queues.add(queue);
    const url = options.url ?? 'amqp://guest:guest@localhost/';
    this.broker = new Broker({
      urls: typeof url === 'string' ? [url] : url,
      logger: this.#log,
      reconnectDelay: options.reconnectDelay ?? 1,
      connectionName: options.name ?? `mtaq-sdk ${process.pid}`,
      setup: (connection) => declareTopology(connection, this.topology([...this.#queues])),
    });
    this.publisher = new Publisher(this.broker, {
      exchange: options.exchange ?? '',
      persistent: options.persistent ?? true,
      maxInFlight: options.maxInFlight ?? 100,
      timeout: options.publishTimeout ?? 60,
      logger: this.#log,
    });
  }

  /**
   * Connects. Resolves once connected, or once the first attempt failed (it keeps retrying in the
   * background; publishes fail until then). Rejects when the broker refuses the login or a queue of
   * `declare` exists with other arguments.
   */
  static async connect(options: ConnectOptions = {}): Promise<Client> {
    const client = new Client(options);
    await client.broker.start();
    return client;
  }

  /** The topology mtaq declares for these queues (exchange, durability, quorum/lazy/priority arguments). */
  topology(queues: readonly string[]): TopologyOptions {
    const o = this.#options;
    return {
      exchange: o.exchange ?? '',
      durable: o.durable ?? true,
      quorum: o.quorum ?? false,
      lazy: o.lazy ?? false,
      maxPriority: o.maxPriority ?? 0,
      queues,
      ...(o.outbox !== undefined ? { outbox: o.outbox } : {}),
    };
  }

  get connected(): boolean {
    return this.broker.isConnected;
  }

  /** Declares queues now (and on every reconnect) with the arguments mtaq uses. */
  async declare(...queues: string[]): Promise<void> {
    const fresh = queues.filter((q) => q !== '' && !this.#queues.has(q));
    for (const queue of fresh) this.#queues.add(queue);
    const connection = this.broker.connection;
    if (connection && fresh.length > 0) await declareTopology(connection, this.topology(fresh));
  }

  /**
   * Publishes a JSON document, persistent (unless `persistent: false`) and gzip-compressed when
   * asked; resolves once RabbitMQ confirmed it, rejects (PublishError) otherwise: no broker, nack,
   * no such queue (mandatory publish returned), or no confirm within `publishTimeout`.
   */
  async publish(queue: string, document: object, options: PublishDocumentOptions = {}): Promise<void> {
    const encoded = encodeMessage(document, { gzip: options.gzip ?? this.#options.gzip ?? false });
    const id = options.messageId ?? (document as Document)['message-id'];
    await this.publisher.publish(queue, encoded.body, {
      ...(typeof id === 'string' && id !== '' ? { messageId: id } : {}),
      ...(encoded.contentEncoding ? { contentEncoding: encoded.contentEncoding } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    });
  }

  /**
   * Consumes `queue` with manual acknowledgements. Each body is decoded (honouring
   * `content-encoding: gzip`) and handed to `handler`. The message is acknowledged after the handler
   * resolved and everything it published through `context.publish` was confirmed; a crash before
   * that leaves it on the queue (at-least-once). A handler that throws gets its message requeued
   * after `requeueDelayMs` — use that for trouble that passes; decide in the handler what to do with
   * a message that can never succeed (publish it somewhere and return, or return 'drop').
   */
  async consume(queue: string, handler: Handler, options: ConsumeOptions = {}): Promise<Subscription> {
    if (options.declare ?? true) await this.declare(queue);
    const log = this.#log.child({ queue });
    const gate = new Gate(Math.max(1, options.concurrency ?? 1));
    const consumer = new Consumer(
      this.broker,
      { queue, prefetch: options.prefetch ?? 100, logger: this.#log, requeueDelayMs: options.requeueDelayMs ?? 1000 },
      async (raw, delivery) => {
        let document: Document;
        try {
          const decoded = decodeMessage(raw.content, raw.properties.contentEncoding as string | undefined);
          if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) throw new Error('body is not a JSON object');
          document = decoded as Document;
        } catch (err) {
          if (options.invalid) return options.invalid(raw, err as Error);
          log.error({ err: (err as Error).message, amqpId: raw.properties.messageId }, 'dropping a message that is not a JSON object');
          return 'drop';
        }
        await gate.take();
        try {
          const forwards: Array<Promise<void>> = [];
          const context: ConsumeContext = {
            raw,
            redelivered: raw.fields.redelivered,
            signal: delivery.signal,
            publish: (target, doc, publishOptions) => {
              // a message whose channel is gone is someone else's now: nothing more is sent for it
              if (!delivery.live()) return Promise.reject(new Error('the channel of this message closed; the broker redelivers it'));
              const sent = this.publish(target, doc, publishOptions);
              forwards.push(sent);
              return sent;
            },
          };
          let disposition: Disposition | void;
          try {
            disposition = await handler(document, context);
          } finally {
            // never settle the input while a forward of it is unconfirmed
            await Promise.allSettled(forwards);
          }
          for (const outcome of await Promise.allSettled(forwards)) {
            if (outcome.status === 'rejected') throw outcome.reason as Error;
          }
          return disposition ?? 'ack';
        } finally {
          gate.give();
        }
      },
    );
    await consumer.start();
    const subscription: Subscription = {
      stop: async (graceMs = 30_000) => {
        this.#subscriptions.delete(subscription);
        await consumer.stop(graceMs);
      },
      get inFlight() {
        return consumer.inFlight;
      },
    };
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Stops every consumer (handlers in flight finish), waits for outstanding confirms, disconnects. */
  async close(graceMs = 30_000): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.stop(graceMs)));
    await this.publisher.close();
    await this.broker.close();
  }
}

/** Connects to RabbitMQ; see {@link Client.connect}. */
export function connect(options: ConnectOptions = {}): Promise<Client> {
  return Client.connect(options);
}

/** A counting semaphore: at most `size` handlers at once, first come first served. */
class Gate {
  #free: number;
  readonly #waiting: Array<() => void> = [];
  constructor(size: number) {
    this.#free = size;
  }
  take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
