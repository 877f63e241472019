import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { silentLogger, type Logger } from '@mtaq/log';
import { Acks } from './acks.js';
import type { Broker } from './broker.js';

export interface ConsumerOptions {
  readonly queue: string;
  /** `rabbitmq-qos`: unacknowledged messages the broker may hand us at once. */
  readonly prefetch: number;
  readonly logger?: Logger;
  /**
   * Milliseconds before a message whose handler threw goes back to the queue. A handler that fails
   * at once for one message would otherwise spin a core on it, redelivery after redelivery.
   */
  readonly requeueDelayMs?: number;
}

/**
 * What to do with a message once the handler is done. A handler acks only after everything it
 * published for the message was confirmed, so a crash before that leaves it on the queue.
 */
export type Disposition = 'ack' | 'requeue' | 'drop';

/**
 * The AMQP delivery a handler is working on. Only the holder of a live delivery can settle it: once
 * the channel it came on is gone, the broker hands the message to someone else, and whatever this
 * handler still does must not publish as if it owned the message.
 */
export interface DeliveryContext {
  /** True while the channel the message came on is open (an ack would still reach the broker). */
  live(): boolean;
  /** Aborted when that channel closes. */
  readonly signal: AbortSignal;
}

export type MessageHandler = (message: ConsumeMessage, context: DeliveryContext) => Promise<Disposition>;

interface Subscription {
  readonly channel: Channel;
  readonly acks: Acks;
  readonly tag: string;
  readonly closed: AbortController;
}

/**
 * Consumes one queue with manual acks, re-subscribing after every reconnect. A handler that throws
 * gets its message requeued after a short delay: failing loudly must never turn into losing mail,
 * and the handler itself bounds how often one message may fail.
 */
export class Consumer {
  readonly #broker: Broker;
  readonly #options: ConsumerOptions;
  readonly #handler: MessageHandler;
  readonly #log: Logger;
  #subscription: Subscription | undefined;
  #inFlight = 0;
  #prefetch: number;
  #stopped = false;
  readonly #idle = new Set<() => void>();
  readonly #onConnected = (connection: ChannelModel): void => void this.#subscribe(connection);

  constructor(broker: Broker, options: ConsumerOptions, handler: MessageHandler) {
    this.#broker = broker;
    this.#options = options;
    this.#handler = handler;
    this.#prefetch = options.prefetch;
    this.#log = (options.logger ?? silentLogger).child({ component: 'consumer', queue: options.queue });
  }

  /** The prefetch in force: `options.prefetch` until `setPrefetch` changes it. */
  get prefetch(): number {
    return this.#prefetch;
  }

  /**
   * Changes how many messages may be unacked at once, at most `options.prefetch`. RabbitMQ applies a
   * per-consumer prefetch only to consumers created after it, so the change is a channel-wide limit
   * (basic.qos global) on top of the consumer's own, which the broker enforces at once. A lower value
   * stops deliveries until fewer than that many are unacked; nothing already here is returned.
   * Classic queues only: RabbitMQ refuses a channel-wide prefetch on a quorum queue's channel.
   */
  async setPrefetch(count: number): Promise<void> {
    const next = Math.min(count, this.#options.prefetch || count);
    if (next === this.#prefetch) return;
    this.#prefetch = next;
    const subscription = this.#subscription;
    if (subscription && !subscription.closed.signal.aborted) {
      await subscription.channel.prefetch(next, true).catch((err: Error) => this.#log.warn({ err: err.message }, 'could not change the prefetch'));
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether a channel is subscribed right now. */
  get consuming(): boolean {
    return this.#subscription !== undefined && !this.#subscription.closed.signal.aborted;
  }

  async start(): Promise<void> {
    this.#broker.on('connected', this.#onConnected);
    if (this.#broker.connection) await this.#subscribe(this.#broker.connection);
  }

  /** Stops taking messages; handlers in flight go on and can still settle theirs. */
  async cancel(): Promise<void> {
    this.#stopped = true;
    this.#broker.off('connected', this.#onConnected);
    const subscription = this.#subscription;
    if (subscription) await subscription.channel.cancel(subscription.tag).catch(() => undefined);
  }

  /** Resolves when no handler is in flight, or at `deadline` (epoch ms); true when idle. */
  async drained(deadline: number): Promise<boolean> {
    if (this.#inFlight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#idle.delete(done);
        resolve(this.#inFlight === 0);
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.#idle.add(done);
    });
  }

  /**
   * Cancels, waits for the handlers in flight at most `graceMs` (their acks still go out), then
   * closes the channel: whatever is still unacked returns to the queue.
   */
  async stop(graceMs = 30_000): Promise<void> {
    await this.cancel();
    if (!(await this.drained(Date.now() + graceMs))) {
      this.#log.warn({ inFlight: this.#inFlight }, 'stopping with messages in flight; the broker will redeliver them');
    }
    await this.close();
  }

  /** Closes the channel now (after the acks already decided); unacked messages go back to the queue. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#broker.off('connected', this.#onConnected);
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (!subscription) return;
    subscription.acks.flush();
    await subscription.channel.close().catch(() => undefined);
  }

  async #subscribe(connection: ChannelModel): Promise<void> {
    if (this.#stopped) return;
    try {
      const channel = await connection.createChannel();
      const closed = new AbortController();
      channel.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'consumer channel error'));
      channel.on('close', () => closed.abort(new Error('consumer channel closed')));
      await channel.prefetch(this.#options.prefetch);
      if (this.#prefetch !== this.#options.prefetch) await channel.prefetch(this.#prefetch, true); // setPrefetch, kept across reconnects
      const context: DeliveryContext = { live: () => !closed.signal.aborted, signal: closed.signal };
      const acks = new Acks(channel, (err) => this.#log.warn({ err: err.message }, 'could not settle messages, broker will redeliver'));
      const { consumerTag } = await channel.consume(this.#options.queue, (m) => {
        if (!m) return;
        acks.received(m);
        void this.#dispatch(acks, m, context);
      });
      this.#subscription = { channel, acks, tag: consumerTag, closed };
      this.#log.info({ prefetch: this.#prefetch }, 'consuming');
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'could not consume');
    }
  }

  async #dispatch(acks: Acks, message: ConsumeMessage, context: DeliveryContext): Promise<void> {
    this.#inFlight++;
    try {
      let disposition: Disposition;
      try {
        disposition = await this.#handler(message, context);
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'handler failed, requeueing message');
        disposition = 'requeue';
        await delay(this.#options.requeueDelayMs ?? 1000, context.signal);
      }
      // a message from a channel that died meanwhile is redelivered by the broker anyway
      if (!context.live()) return;
      try {
        if (disposition === 'ack') acks.ack(message);
        else acks.nack(message, disposition === 'requeue');
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'could not settle message, broker will redeliver');
      }
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const done of [...this.#idle]) done();
    }
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}
