import type { Channel, ChannelModel } from 'amqplib';
import type { Config } from '@mtaq/config';

export interface TopologyOptions {
  /** `rabbitmq-exchange`: empty means the default exchange, which needs no declaration or bindings. */
  readonly exchange: string;
  readonly durable: boolean;
  readonly quorum: boolean;
  readonly lazy: boolean;
  readonly maxPriority: number;
  /** Queue names to declare; duplicates and empty names are ignored. */
  readonly queues: readonly string[];
  /**
   * `rabbitmq-outbox`, the queue delivery concludes. Under quorum it alone gets a delivery limit and
   * a dead-letter queue ({@link deadLetterQueue}) that delivery consumes; absent = no such queue here.
   */
  readonly outbox?: string;
}

/**
 * Redeliveries of one outbox message (quorum `x-delivery-limit`) before RabbitMQ dead-letters it.
 * Delivery bounds a message that makes its handler throw itself (MAX_HANDLER_FAILURES); this bounds
 * the messages that kill the process before it can count. RabbitMQ 3.10 also counts the prefetched
 * messages a stopping or crashing consumer hands back, so it is generous: 20 such returns in a row.
 */
export const QUORUM_DELIVERY_LIMIT = 20;

/** Where a quorum outbox dead-letters a message past its delivery limit; delivery concludes it into the failure queue. */
export function deadLetterQueue(outbox: string): string {
  return `${outbox}.dead`;
}

/**
 * Under quorum, RabbitMQ's default dead-lettering is at-most-once: a dead-lettered message is gone
 * from the source before the target confirmed it, and a failover between the two loses it.
 * at-least-once keeps it in the source until the target confirmed; RabbitMQ allows that strategy
 * only with `x-overflow: reject-publish` (a `drop-head` overflow could not wait for the target).
 */
export const AT_LEAST_ONCE_DEAD_LETTERING: Readonly<Record<string, unknown>> = Object.freeze({
  'x-dead-letter-strategy': 'at-least-once',
  'x-overflow': 'reject-publish',
});

/** The queue keys every mtaq process may publish to or consume from (reference §1). */
export const QUEUE_KEYS = [
  'rabbitmq-inbox',
  'rabbitmq-outbox',
  'rabbitmq-local',
  'rabbitmq-reports',
  'rabbitmq-refused',
  'rabbitmq-results',
  'rabbitmq-success',
  'rabbitmq-failure',
  'rabbitmq-retry',
  'rabbitmq-dsn',
] as const;

export function topologyFromConfig(config: Config): TopologyOptions {
  return {
    exchange: config['rabbitmq-exchange'],
    durable: config['rabbitmq-durable'],
    quorum: config['rabbitmq-quorum'],
    lazy: config['rabbitmq-lazy'],
    maxPriority: config['rabbitmq-maxpriority'] ?? 0,
    queues: QUEUE_KEYS.map((key) => config[key]),
    outbox: config['rabbitmq-outbox'],
  };
}

/**
 * Queue arguments must be identical for every declarer, or RabbitMQ refuses the second declaration;
 * so they are computed in one place and mirrored by rabbitmq/definitions.json. Pass `queue` (with
 * `outbox` and `exchange` in the options) to get the outbox's own quorum arguments when it is the outbox.
 *
 * Under quorum only the outbox has a delivery limit: a limit drops a message unless it is
 * dead-lettered somewhere, and only the outbox has a consumer (delivery) that concludes what lands
 * there. The other queues (inbox, results, failure, …) keep RabbitMQ 3.10's default, no limit: a
 * poison message there is redelivered to its consumer again and again, but never dropped.
 */
export function queueArguments(
  options: Pick<TopologyOptions, 'quorum' | 'lazy' | 'maxPriority'> & Partial<Pick<TopologyOptions, 'outbox' | 'exchange'>>,
  queue?: string,
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (options.quorum) args['x-queue-type'] = 'quorum';
  else if (options.lazy) args['x-queue-mode'] = 'lazy';
  // quorum queues reject x-max-priority, they only know normal/high (and the config refuses the pair)
  if (options.maxPriority > 0 && !options.quorum) args['x-max-priority'] = options.maxPriority;
  if (options.quorum && queue !== undefined && queue !== '' && queue === options.outbox) {
    Object.assign(args, {
      'x-delivery-limit': QUORUM_DELIVERY_LIMIT,
      // '' is the default exchange, where the routing key is the queue name
      'x-dead-letter-exchange': options.exchange ?? '',
      'x-dead-letter-routing-key': deadLetterQueue(queue),
      ...AT_LEAST_ONCE_DEAD_LETTERING,
    });
  }
  return args;
}

/**
 * The queues to declare, in order: under quorum the outbox's dead-letter queue comes first, so
 * that it exists before the outbox can dead-letter into it (an unroutable dead letter is dropped).
 */
function declaredQueues(options: TopologyOptions): string[] {
  const queues = [...new Set(options.queues.filter((q) => q !== ''))];
  const outbox = options.outbox;
  if (!options.quorum || outbox === undefined || !queues.includes(outbox)) return queues;
  return [deadLetterQueue(outbox), ...queues.filter((q) => q !== deadLetterQueue(outbox))];
}

/**
 * Declares the exchange and every named queue. Runs on a throwaway channel because a failed
 * declaration (PRECONDITION_FAILED on a mismatching queue) closes the channel it ran on.
 */
export async function declareTopology(connection: ChannelModel, options: TopologyOptions): Promise<void> {
  const channel: Channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    if (options.exchange) await channel.assertExchange(options.exchange, 'direct', { durable: options.durable });
    for (const queue of declaredQueues(options)) {
      try {
        await channel.assertQueue(queue, { durable: options.durable || options.quorum, arguments: queueArguments(options, queue) });
      } catch (err) {
        throw mismatchError(queue, err as Error, options.quorum);
      }
      if (options.exchange) await channel.bindQueue(queue, options.exchange, queue);
    }
  } catch (err) {
    if (err instanceof QueueMismatchError) throw err;
    throw new Error(`declaring RabbitMQ topology failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/**
 * A queue exists with other arguments than mtaq declares (PRECONDITION_FAILED). RabbitMQ cannot change
 * a queue's type or arguments in place, so the operator has to migrate it: one line that says how.
 */
export class QueueMismatchError extends Error {
  readonly queue: string;
  /** The argument RabbitMQ named, e.g. `x-queue-type`; empty when it named none. */
  readonly argument: string;
  override readonly cause: Error;
  constructor(queue: string, argument: string, message: string, cause: Error) {
    super(message);
    this.queue = queue;
    this.argument = argument;
    this.cause = cause;
  }
}

/** The error for a failed declaration of `queue`: a QueueMismatchError for PRECONDITION_FAILED, else `err`. */
export function mismatchError(queue: string, err: Error, quorum: boolean): Error {
  if (!/PRECONDITION[-_]FAILED/.test(err.message)) return err;
  const argument = /inequivalent arg '([^']+)'/.exec(err.message)?.[1] ?? '';
  const migrate = 'drain it (or shovel its messages to a new queue), delete it, and start again to redeclare it (README: Quorum queues)';
  const what =
    argument === 'x-queue-type' && quorum
      ? `queue "${queue}" exists as a classic queue but rabbitmq-quorum is on; a queue cannot become quorum in place: ${migrate}`
      : argument === 'x-queue-type'
        ? `queue "${queue}" exists as a quorum queue but rabbitmq-quorum is off; a queue cannot change its type in place: ${migrate}`
        : `queue "${queue}" exists with other arguments than mtaq declares (${argument || 'PRECONDITION_FAILED'} differs); RabbitMQ cannot change them in place: ${migrate}`;
  return new QueueMismatchError(queue, argument, `declaring RabbitMQ topology failed: PRECONDITION_FAILED, ${what}`, err);
}
