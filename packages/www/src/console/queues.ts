import type { Channel } from 'amqplib';
import type { Logger } from '@mtaq/log';
import { Broker } from '@mtaq/queue';

/** A queue the console shows: what it is for (the config key, or "delay 30 s") and its name. */
export interface QueueRef {
  readonly label: string;
  readonly name: string;
}

/** The queues the console watches, learned from the config by the process that starts it. */
export interface QueueNames {
  /** rabbitmq-inbox, -outbox, -results, ... when set: always shown, a missing one as "—". */
  readonly main: readonly QueueRef[];
  /** Delay and park queues (`<outbox>.delay.<s>`, `<outbox>.park.…`): shown only while they exist. */
  readonly waiting: readonly QueueRef[];
}

export interface QueueDepth extends QueueRef {
  /** undefined: the queue does not exist (or the broker could not be asked). */
  readonly messages?: number | undefined;
  readonly consumers?: number | undefined;
}

export interface QueueReport {
  readonly connected: boolean;
  readonly main: QueueDepth[];
  readonly waiting: QueueDepth[];
}

/** Delay and park queues are asked about less often: most do not exist, and each miss costs a channel. */
const WAITING_EVERY_MS = 5000;

/**
 * Queue depths through `checkQueue` (a passive declare: never creates a queue) on a broker
 * connection and channel of the console's own, so nothing it does can close a channel ingress or
 * delivery publish on. A missing queue closes the channel (404), so a fresh one is opened for the
 * next check. The connection is opened on the first look and kept, reconnecting like every mtaq
 * broker connection.
 */
export class QueueWatch {
  readonly #names: QueueNames;
  readonly #broker: Broker;
  #started: Promise<void> | undefined;
  #channel: Promise<Channel> | undefined;
  #waiting: QueueDepth[] = [];
  #waitingAt = 0;

  constructor(urls: readonly string[], names: QueueNames, logger: Logger) {
    this.#names = names;
    this.#broker = new Broker({ urls, logger, connectionName: `mtaq console ${process.pid}`, reconnectDelay: 2 });
  }

  async report(now = Date.now()): Promise<QueueReport> {
    this.#started ??= this.#broker.start();
    await this.#started.catch(() => undefined);
    if (!this.#broker.connection) return { connected: false, main: this.#names.main.map((q) => ({ ...q })), waiting: [] };
    const main: QueueDepth[] = [];
    for (const queue of this.#names.main) main.push({ ...queue, ...(await this.#check(queue.name)) });
    if (now - this.#waitingAt >= WAITING_EVERY_MS) {
      const waiting: QueueDepth[] = [];
      for (const queue of this.#names.waiting) {
        const depth = await this.#check(queue.name);
        if (depth.messages !== undefined) waiting.push({ ...queue, ...depth });
      }
      this.#waiting = waiting;
      this.#waitingAt = now;
    }
    return { connected: true, main, waiting: this.#waiting };
  }

  async #check(name: string): Promise<{ messages?: number; consumers?: number }> {
    const connection = this.#broker.connection;
    if (!connection) return {};
    try {
      this.#channel ??= connection.createChannel().then((channel) => {
        channel.on('error', () => undefined);
        channel.on('close', () => {
          this.#channel = undefined;
        });
        return channel;
      });
      const channel = await this.#channel;
      const { messageCount, consumerCount } = await channel.checkQueue(name);
      return { messages: messageCount, consumers: consumerCount };
    } catch {
      this.#channel = undefined; // a 404 closed it
      return {};
    }
  }

  async close(): Promise<void> {
    await this.#broker.close();
  }
}
