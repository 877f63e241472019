import { EventEmitter } from 'node:events';
import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { parseClusterMessage, type ClusterMessage } from './messages.js';

/** Seconds between attempts to (re)connect to the cluster broker. */
const RECONNECT_SECONDS = 5;

export type ClusterLinkConfig = Pick<Config, 'cluster-address' | 'cluster-exchange' | 'cluster-verify'>;

interface LinkEvents {
  message: [message: ClusterMessage];
  connected: [];
}

/**
 * This process's one connection to the cluster exchange (§9): a durable fanout exchange
 * `cluster-exchange` on `cluster-address` (default: rabbitmq-address), to which each process binds
 * a private, exclusive queue. Rule reloads, announcements and hello requests all travel over it.
 * The connection is remade every few seconds while it is down; what it carries is advisory (rules
 * still reload every database-ttl, peers expire by themselves), so nothing waits for it.
 */
export class ClusterLink extends EventEmitter<LinkEvents> {
  readonly #config: ClusterLinkConfig;
  readonly #log: Logger;
  #connection: ChannelModel | undefined;
  #channel: Channel | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #warned = false;

  constructor(config: ClusterLinkConfig, logger: Logger) {
    super();
    this.#config = config;
    this.#log = logger.child({ component: 'cluster' });
  }

  get connected(): boolean {
    return this.#channel !== undefined;
  }

  start(): this {
    void this.#open();
    return this;
  }

  /** Publishes on the cluster exchange; false when not connected (cluster messages are not queued). */
  publish(content: Buffer): boolean {
    const channel = this.#channel;
    if (!channel) return false;
    try {
      channel.publish(this.#config['cluster-exchange'], '', content, { contentType: 'application/json' });
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const connection = this.#connection;
    const channel = this.#channel;
    this.#connection = undefined;
    this.#channel = undefined;
    // closing the channel first lets what was just published (a goodbye) reach the broker; closing
    // the connection at once can drop it
    await channel?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }

  #again(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#open(), RECONNECT_SECONDS * 1000);
    this.#timer.unref();
  }

  async #open(): Promise<void> {
    const exchange = this.#config['cluster-exchange'];
    for (const url of this.#config['cluster-address']) {
      if (this.#stopped) return;
      let c: ChannelModel | undefined;
      try {
        c = await connect(url, url.startsWith('amqps:') && !this.#config['cluster-verify'] ? { rejectUnauthorized: false } : {});
        const model = c;
        model.on('error', () => undefined);
        model.on('close', () => {
          if (this.#connection !== model) return;
          this.#connection = undefined;
          this.#channel = undefined;
          if (!this.#stopped) {
            this.#log.warn('cluster broker connection lost: rule reloads by cluster message and announcements paused until it is back');
            this.#again();
          }
        });
        const channel = await c.createChannel();
        channel.on('error', () => undefined);
        await channel.assertExchange(exchange, 'fanout', { durable: true });
        const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
        await channel.bindQueue(queue, exchange, '');
        await channel.consume(
          queue,
          (msg) => {
            if (msg === null) return;
            const message = parseClusterMessage(msg.content);
            if (message) this.emit('message', message);
          },
          { noAck: true },
        );
        if (this.#stopped) {
          await c.close().catch(() => undefined);
          return;
        }
        this.#connection = c;
        this.#channel = channel;
        this.#warned = false;
        this.#log.info({ exchange }, 'listening on the cluster exchange');
        this.emit('connected');
        return;
      } catch (err) {
        await c?.close().catch(() => undefined);
        if (!this.#warned) this.#log.warn({ err: (err as Error).message }, 'cannot listen on the cluster exchange yet; retrying (database-ttl reloads still apply)');
        this.#warned = true;
      }
    }
    this.#again();
  }
}
