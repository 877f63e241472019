import type { Broker } from './broker.js';
import { mismatchError } from './topology.js';

/**
 * Declares queues on demand (delay and park queues whose names depend on the message) once per
 * connection, binding them to the exchange when one is configured.
 */
export class QueueDeclarer {
  readonly #broker: Broker;
  readonly #exchange: string;
  readonly #durable: boolean;
  #declared = new Map<string, { done: Promise<void>; at: number }>();

  constructor(broker: Broker, options: { exchange: string; durable: boolean }) {
    this.#broker = broker;
    this.#exchange = options.exchange;
    this.#durable = options.durable;
    // a new connection may be to a broker (node) that never saw our queues
    broker.on('connected', () => (this.#declared = new Map()));
  }

  /**
   * Declares `queue` unless this connection already did within `maxAgeMs`: a queue with
   * `x-expires` must be re-declared now and then, since publishing alone does not keep it alive.
   */
  ensure(queue: string, args: Record<string, unknown>, maxAgeMs = Infinity): Promise<void> {
    const known = this.#declared.get(queue);
    if (known && Date.now() - known.at < maxAgeMs) return known.done;
    const done = this.#declare(queue, args);
    done.catch(() => this.#declared.delete(queue));
    this.#declared.set(queue, { done, at: Date.now() });
    return done;
  }

  async #declare(queue: string, args: Record<string, unknown>): Promise<void> {
    const connection = this.#broker.connection;
    if (!connection) throw new Error('message broker is unavailable');
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      await channel.assertQueue(queue, { durable: this.#durable, arguments: args }).catch((err: Error) => {
        // e.g. a classic delay queue left from before rabbitmq-quorum was turned on
        throw mismatchError(queue, err, args['x-queue-type'] === 'quorum');
      });
      if (this.#exchange) await channel.bindQueue(queue, this.#exchange, queue);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}
