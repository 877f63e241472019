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
}

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
  };
}

/**
 * Queue arguments must be identical for every declarer, or RabbitMQ refuses the second declaration;
 * so they are computed in one place and mirrored by rabbitmq/definitions.json.
 */
export function queueArguments(options: Pick<TopologyOptions, 'quorum' | 'lazy' | 'maxPriority'>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (options.quorum) args['x-queue-type'] = 'quorum';
  else if (options.lazy) args['x-queue-mode'] = 'lazy';
  // quorum queues reject x-max-priority, they only know normal/high
  if (options.maxPriority > 0 && !options.quorum) args['x-max-priority'] = options.maxPriority;
  return args;
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
    const args = queueArguments(options);
    for (const queue of new Set(options.queues.filter((q) => q !== ''))) {
      await channel.assertQueue(queue, { durable: options.durable || options.quorum, arguments: args });
      if (options.exchange) await channel.bindQueue(queue, options.exchange, queue);
    }
  } catch (err) {
    throw new Error(`declaring RabbitMQ topology failed: ${(err as Error).message}`, { cause: err });
  } finally {
    await channel.close().catch(() => undefined);
  }
}
