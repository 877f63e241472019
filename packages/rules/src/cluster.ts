import { silentLogger, type Logger } from '@mtaq/log';
import type { RuleCache } from './cache.js';

/**
 * The part of an amqplib channel the cluster wiring uses (so this package needs no amqplib).
 * The cluster exchange (`cluster-exchange`, default `cluster`) is a durable fanout exchange; each
 * process binds its own exclusive, auto-deleted queue to it (reference §9).
 */
export interface ClusterChannel {
  assertExchange(exchange: string, type: string, options?: Record<string, unknown>): Promise<unknown>;
  assertQueue(queue: string, options?: Record<string, unknown>): Promise<{ queue: string }>;
  bindQueue(queue: string, exchange: string, pattern: string): Promise<unknown>;
  consume(queue: string, onMessage: (msg: { content: Buffer } | null) => void, options?: Record<string, unknown>): Promise<{ consumerTag: string }>;
  cancel(consumerTag: string): Promise<unknown>;
  publish(exchange: string, routingKey: string, content: Buffer, options?: Record<string, unknown>): boolean;
}

/** True for a cluster message that asks every instance to reload the rule database (`{"reload": true}`). */
export function isReloadMessage(content: Buffer | string): boolean {
  try {
    const doc: unknown = JSON.parse(content.toString());
    return typeof doc === 'object' && doc !== null && (doc as { reload?: unknown }).reload === true;
  } catch {
    return false;
  }
}

/** Listens on the cluster exchange and reloads `cache` on every `{"reload": true}`. Returns a stop function. */
export async function listenForReload(channel: ClusterChannel, exchange: string, cache: RuleCache, logger: Logger = silentLogger): Promise<() => Promise<void>> {
  await channel.assertExchange(exchange, 'fanout', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await channel.bindQueue(queue, exchange, '');
  const { consumerTag } = await channel.consume(
    queue,
    (msg) => {
      if (msg === null || !isReloadMessage(msg.content)) return;
      logger.info({ component: 'rules' }, 'cluster asked for a rule reload');
      void cache.reload();
    },
    { noAck: true },
  );
  return async () => {
    await channel.cancel(consumerTag);
  };
}

/** Tells every instance (this one included) to reload the rules now; call after an edit. */
export async function publishReload(channel: ClusterChannel, exchange: string): Promise<void> {
  await channel.assertExchange(exchange, 'fanout', { durable: true });
  channel.publish(exchange, '', Buffer.from(JSON.stringify({ reload: true })), { contentType: 'application/json' });
}
