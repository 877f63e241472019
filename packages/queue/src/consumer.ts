import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { silentLogger, type Logger } from '@mtaq/log';
import type { Broker } from './broker.js';

export interface ConsumerOptions {
  readonly queue: string;
  /** `rabbitmq-qos`: unacknowledged messages the broker may hand us at once. */
  readonly prefetch: number;
  readonly logger?: Logger;
}

/**
 * What to do with a message once the handler is done. A handler acks only after everything it
 * published for the message was confirmed, so a crash before that leaves it on the queue.
 */
export type Disposition = 'ack' | 'requeue' | 'drop';

export type MessageHandler = (message: ConsumeMessage) => Promise<Disposition>;

/**
 * Consumes one queue with manual acks, re-subscribing after every reconnect. A handler that throws
 * gets its message requeued: failing loudly must never turn into losing mail.
 */
export class Consumer {
  readonly #broker: Broker;
  readonly #options: ConsumerOptions;
  readonly #handler: MessageHandler;
  readonly #log: Logger;
  #channel: Channel | undefined;
  #tag: string | undefined;
  #inFlight = 0;
  #stopped = false;
  readonly #onConnected = (connection: ChannelModel): void => void this.#subscribe(connection);

  constructor(broker: Broker, options: ConsumerOptions, handler: MessageHandler) {
    this.#broker = broker;
    this.#options = options;
    this.#handler = handler;
    this.#log = (options.logger ?? silentLogger).child({ component: 'consumer', queue: options.queue });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async start(): Promise<void> {
    this.#broker.on('connected', this.#onConnected);
    if (this.#broker.connection) await this.#subscribe(this.#broker.connection);
  }

  /**
   * Stops taking messages and waits for the handlers in flight, at most `graceMs`; their acks still
   * go out. Past the grace period the channel closes anyway: unacked messages return to the queue.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopped = true;
    this.#broker.off('connected', this.#onConnected);
    const channel = this.#channel;
    if (channel && this.#tag) await channel.cancel(this.#tag).catch(() => undefined);
    const deadline = Date.now() + graceMs;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.#inFlight > 0) this.#log.warn({ inFlight: this.#inFlight }, 'stopping with messages in flight; the broker will redeliver them');
    this.#channel = undefined;
    if (channel) await channel.close().catch(() => undefined);
  }

  async #subscribe(connection: ChannelModel): Promise<void> {
    if (this.#stopped) return;
    try {
      const channel = await connection.createChannel();
      channel.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'consumer channel error'));
      await channel.prefetch(this.#options.prefetch);
      this.#channel = channel;
      const { consumerTag } = await channel.consume(this.#options.queue, (m) => {
        if (m) void this.#dispatch(channel, m);
      });
      this.#tag = consumerTag;
      this.#log.info({ prefetch: this.#options.prefetch }, 'consuming');
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'could not consume');
    }
  }

  async #dispatch(channel: Channel, message: ConsumeMessage): Promise<void> {
    this.#inFlight++;
    let disposition: Disposition;
    try {
      disposition = await this.#handler(message);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'handler failed, requeueing message');
      disposition = 'requeue';
    }
    try {
      // a message from a channel that died meanwhile is redelivered by the broker anyway
      if (disposition === 'ack') channel.ack(message);
      else channel.nack(message, false, disposition === 'requeue');
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'could not settle message, broker will redeliver');
    } finally {
      this.#inFlight--;
    }
  }
}
