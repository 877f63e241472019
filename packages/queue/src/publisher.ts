import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import { PublishError, UnroutableError } from '@mtaq/errors';
import { silentLogger, type Logger } from '@mtaq/log';
import type { Broker } from './broker.js';

export interface PublisherOptions {
  /** `rabbitmq-exchange`; empty string is the default (nameless) exchange. */
  readonly exchange: string;
  /** `rabbitmq-persistent`: delivery-mode 2. */
  readonly persistent: boolean;
  /** `rabbitmq-throttle`: most unconfirmed publishes in flight; callers beyond it wait. */
  readonly maxInFlight: number;
  /**
   * Most body bytes handed to the broker and not yet confirmed (default 16 MB); callers beyond it
   * wait, so a lazy body is encoded only when it can be sent. One larger body goes alone.
   */
  readonly maxInFlightBytes?: number;
  /**
   * `rabbitmq-publish-timeout` in seconds: a confirm later than this is an error. It counts from the
   * moment the message is handed to the broker: waiting for a slot in front of it does not count.
   */
  readonly timeout: number;
  /**
   * Seconds between probes while idle (default 5; 0 = none): RabbitMQ tells a connection it is
   * blocked (memory or disk alarm) only once it publishes, so an idle publisher sends an empty,
   * unroutable, non-mandatory message now and then to learn of an alarm before a client's message.
   */
  readonly probeInterval?: number;
  readonly logger?: Logger;
}

export interface PublishOptions {
  /** Becomes the AMQP message-id, and lets a broker `return` be matched to its publish. */
  readonly messageId?: string;
  readonly contentEncoding?: string;
  readonly priority?: number;
  readonly headers?: Record<string, unknown>;
}

interface Pending {
  readonly channel: ConfirmChannel;
  readonly routingKey: string;
  readonly messageId: string;
  returned?: string;
  settled: boolean;
  /** The deadline passed first: a confirm that still arrives means the message may be queued twice. */
  timedOut?: boolean;
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(error: PublishError): void;
}

/**
 * Publishes on a ConfirmChannel and resolves only once RabbitMQ has taken responsibility for the
 * message. Everything else (no broker, nack, unroutable return, channel loss, confirm timeout)
 * rejects with a PublishError, which maps to `451 4.3.0` at the SMTP edge.
 */
export class Publisher {
  readonly #broker: Broker;
  readonly #options: PublisherOptions;
  readonly #log: Logger;
  #channel: ConfirmChannel | undefined;
  #opening: Promise<ConfirmChannel | undefined> | undefined;
  readonly #pending = new Set<Pending>();
  /** Channels taken out of use after a nack, closing once their publishes are settled. */
  readonly #retired = new Map<ConfirmChannel, NodeJS.Timeout>();
  /** messageId → publishes awaiting a confirm; a `return` names only the message-id. */
  readonly #byMessageId = new Map<string, Pending[]>();
  #inFlight = 0;
  #inFlightBytes = 0;
  readonly #waiters: Array<{ bytes: number; grant: () => void }> = [];
  #sequence = 0;
  #closed = false;
  #lastPublish = 0;
  readonly #probe: NodeJS.Timeout | undefined;

  constructor(broker: Broker, options: PublisherOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'publisher' });
    broker.on('connected', (connection) => void this.#open(connection));
    broker.on('disconnected', () => this.#dropChannel(new PublishError('connection to the message broker was lost')));
    if (broker.connection) void this.#open(broker.connection);
    const every = (options.probeInterval ?? 5) * 1000;
    if (every > 0) {
      this.#probe = setInterval(() => this.#sendProbe(every), every);
      this.#probe.unref();
    }
  }

  #sendProbe(every: number): void {
    const channel = this.#channel;
    if (!channel || this.#broker.isBlocked || Date.now() - this.#lastPublish < every) return;
    this.#lastPublish = Date.now();
    try {
      // default exchange, no such queue, not mandatory: the broker drops it
      channel.publish('', '', Buffer.alloc(0), { mandatory: false }, () => undefined);
    } catch {
      // channel closing: the next connection probes again
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Connected and not blocked by the broker (a memory or disk alarm): a publish now has a chance.
   * The ingress asks this at MAIL FROM, so broker trouble is answered before the client sends a body.
   */
  get available(): boolean {
    return this.#broker.isConnected && !this.#broker.isBlocked;
  }

  /**
   * Resolves when the broker confirmed the message; see the class comment for rejections. `body`
   * may be a function: it is called only once the message has a slot (count and bytes, with
   * `sizeHint` as its size), so a caller with many copies never holds more than the window encoded.
   */
  async publish(routingKey: string, body: Buffer | (() => Buffer), options: PublishOptions & { sizeHint?: number } = {}): Promise<void> {
    if (this.#closed) throw new PublishError('publisher is closed');
    if (!this.#broker.isConnected) throw new PublishError('message broker is unavailable');
    const bytes = typeof body === 'function' ? (options.sizeHint ?? 0) : body.length;
    // our own queueing in front of the broker: not part of the confirm deadline
    await this.#acquire(bytes);
    try {
      const tooLate = (): PublishError => new PublishError(`message broker did not confirm within ${this.#options.timeout}s`);
      const channel = this.#channel ?? (await withDeadline(this.#ensureChannel(), Date.now() + this.#options.timeout * 1000, tooLate));
      if (!channel) throw new PublishError('message broker is unavailable');
      const content = typeof body === 'function' ? body() : body;
      await this.#send(channel, routingKey, content, options, Date.now() + this.#options.timeout * 1000);
    } finally {
      this.#release(bytes);
    }
  }

  /** Waits for outstanding confirms (bounded by the publish timeout), then closes the channel. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    const deadline = Date.now() + this.#options.timeout * 1000;
    while (this.#pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const channel = this.#channel;
    this.#dropChannel(new PublishError('publisher is closed'));
    if (channel) await channel.close().catch(() => undefined);
  }

  #send(channel: ConfirmChannel, routingKey: string, body: Buffer, options: PublishOptions, deadline: number): Promise<void> {
    const messageId = options.messageId ?? `p${++this.#sequence}`;
    this.#lastPublish = Date.now();
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        channel,
        routingKey,
        messageId,
        settled: false,
        timer: setTimeout(() => {
          pending.timedOut = true;
          this.#settle(pending, new PublishError(`message broker did not confirm within ${this.#options.timeout}s`));
        }, Math.max(0, deadline - Date.now())),
        resolve,
        reject,
      };
      this.#pending.add(pending);
      const sameId = this.#byMessageId.get(messageId);
      if (sameId) sameId.push(pending);
      else this.#byMessageId.set(messageId, [pending]);
      try {
        channel.publish(
          this.#options.exchange,
          routingKey,
          body,
          {
            mandatory: true,
            persistent: this.#options.persistent,
            contentType: 'application/json',
            messageId,
            ...(options.contentEncoding ? { contentEncoding: options.contentEncoding } : {}),
            ...(options.priority !== undefined ? { priority: options.priority } : {}),
            ...(options.headers ? { headers: options.headers } : {}),
          },
          (err: unknown) => {
            if (pending.timedOut) {
              // the client was told 451 and will send it again: this copy is queued as well
              if (!err) this.#log.warn({ mid: messageId, queue: routingKey }, 'broker confirmed a publish after the deadline: possible duplicate');
              return;
            }
            if (err) {
              this.#settle(pending, new PublishError('message broker refused the message (nack)', { cause: err }));
              this.#retire(channel);
            }
            else if (pending.returned) this.#settle(pending, new UnroutableError(routingKey, pending.returned));
            else this.#settle(pending);
          },
        );
      } catch (err) {
        this.#settle(pending, new PublishError(`publish failed: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  #settle(pending: Pending, error?: PublishError): void {
    if (pending.settled) return;
    pending.settled = true;
    clearTimeout(pending.timer);
    this.#pending.delete(pending);
    const list = this.#byMessageId.get(pending.messageId);
    if (list) {
      const rest = list.filter((p) => p !== pending);
      if (rest.length) this.#byMessageId.set(pending.messageId, rest);
      else this.#byMessageId.delete(pending.messageId);
    }
    if (error) pending.reject(error);
    else pending.resolve();
    if (this.#retired.size) this.#closeRetiredIfIdle(pending.channel);
  }

  /** RabbitMQ sends basic.return before the ack of an unroutable mandatory message. */
  #onReturn(message: Message): void {
    const { messageId } = message.properties as { messageId?: string };
    const { routingKey, replyText } = message.fields as { routingKey: string; replyText?: string };
    const target = this.#byMessageId.get(messageId ?? '')?.find((p) => !p.returned && p.routingKey === routingKey);
    if (target) target.returned = `message broker could not route to queue "${routingKey}" (${replyText ?? 'NO_ROUTE'})`;
  }

  async #ensureChannel(): Promise<ConfirmChannel | undefined> {
    const connection = this.#broker.connection;
    if (!connection) return undefined;
    return this.#open(connection);
  }

  #open(connection: ChannelModel): Promise<ConfirmChannel | undefined> {
    if (this.#opening) return this.#opening;
    this.#opening = (async () => {
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('return', (m: Message) => this.#onReturn(m));
        channel.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'publish channel error'));
        channel.on('close', () => {
          if (this.#channel === channel) this.#channel = undefined;
          this.#retired.delete(channel);
          for (const pending of [...this.#pending]) {
            if (pending.channel === channel) this.#settle(pending, new PublishError('publish channel closed'));
          }
        });
        this.#channel = channel;
        return channel;
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'could not open publish channel');
        return undefined;
      } finally {
        this.#opening = undefined;
      }
    })();
    return this.#opening;
  }

  /**
   * A nack takes the channel out of use: the next publish opens a new one. RabbitMQ 3.10 can leave a
   * channel that first published to a quorum queue while its leader was being elected nacking every
   * later publish to that queue (it still addresses the dead leader), while a new channel is fine.
   * The old channel closes once its own publishes are settled (or after the publish timeout).
   */
  #retire(channel: ConfirmChannel): void {
    if (this.#retired.has(channel)) return;
    if (this.#channel === channel) this.#channel = undefined;
    const timer = setTimeout(() => this.#closeRetired(channel), this.#options.timeout * 1000);
    timer.unref();
    this.#retired.set(channel, timer);
    this.#log.warn('broker nacked a publish: publishing on a new channel');
    this.#closeRetiredIfIdle(channel);
  }

  #closeRetiredIfIdle(channel: ConfirmChannel): void {
    if (!this.#retired.has(channel)) return;
    for (const pending of this.#pending) if (pending.channel === channel) return;
    this.#closeRetired(channel);
  }

  #closeRetired(channel: ConfirmChannel): void {
    const timer = this.#retired.get(channel);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#retired.delete(channel);
    // pending publishes still on it are rejected by its close handler
    channel.close().catch(() => undefined);
  }

  #dropChannel(error: PublishError): void {
    this.#channel = undefined;
    for (const timer of this.#retired.values()) clearTimeout(timer);
    this.#retired.clear();
    for (const pending of [...this.#pending]) this.#settle(pending, error);
  }

  #fits(bytes: number): boolean {
    const maxBytes = this.#options.maxInFlightBytes ?? 16 * 1024 * 1024;
    return this.#inFlight < this.#options.maxInFlight && (this.#inFlight === 0 || this.#inFlightBytes + bytes <= maxBytes);
  }

  /** Resolves once a slot (one of `maxInFlight`, and `bytes` of the byte window) is ours; first come, first served. */
  #acquire(bytes: number): Promise<void> {
    if (this.#waiters.length === 0 && this.#fits(bytes)) {
      this.#inFlight++;
      this.#inFlightBytes += bytes;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.#waiters.push({ bytes, grant: resolve }));
  }

  #release(bytes: number): void {
    this.#inFlight--;
    this.#inFlightBytes -= bytes;
    while (this.#waiters.length && this.#fits(this.#waiters[0]!.bytes)) {
      const next = this.#waiters.shift()!;
      this.#inFlight++;
      this.#inFlightBytes += next.bytes;
      next.grant();
    }
  }
}

/** The promise's value, or the error from `late()` once `deadline` (epoch ms) has passed. */
function withDeadline<T>(promise: Promise<T>, deadline: number, late: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), Math.max(0, deadline - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err as Error);
      },
    );
  });
}
