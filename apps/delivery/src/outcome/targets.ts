/**
 * Which result queues a message goes to (reference §6 "Queue routing", I6, C45). The outbox copy of
 * a retry is not listed here: it travels through a delay queue (see delay-queues.ts).
 */

import type { Config } from '@mtaq/config';
import type { MessageProperties, QueueKind } from '@mtaq/envelope';

export type { QueueKind };

export type TargetEvent = 'success' | 'failure' | 'retry' | 'dsn';

type QueueConfig = Pick<Config, 'rabbitmq-results' | 'rabbitmq-success' | 'rabbitmq-failure' | 'rabbitmq-retry' | 'rabbitmq-dsn'>;

const CONFIG_KEY = {
  results: 'rabbitmq-results',
  success: 'rabbitmq-success',
  failure: 'rabbitmq-failure',
  retry: 'rabbitmq-retry',
  dsn: 'rabbitmq-dsn',
} as const satisfies Record<QueueKind, keyof QueueConfig>;

const KINDS_OF_EVENT: Record<TargetEvent, readonly QueueKind[]> = {
  success: ['results', 'success'],
  failure: ['results', 'failure'],
  retry: ['retry'],
  dsn: ['dsn'],
};

/**
 * The queue for one kind, or `undefined` for "do not publish". A `queues.<kind>` string wins (empty
 * means none), `null` switches the kind off, and a missing kind falls back to the config queue.
 * A `queues` value of the wrong shape, or a non-string kind, is treated as missing so that a bad
 * producer cannot make results vanish silently.
 */
export function resolveQueue(message: MessageProperties, kind: QueueKind, config: QueueConfig): string | undefined {
  const queues: unknown = message.queues;
  if (typeof queues === 'object' && queues !== null && !Array.isArray(queues) && Object.hasOwn(queues, kind)) {
    const own = (queues as Record<string, unknown>)[kind];
    if (own === null) return undefined;
    if (typeof own === 'string') return own === '' ? undefined : own;
  }
  const configured = config[CONFIG_KEY[kind]];
  return configured === '' ? undefined : configured;
}

/**
 * Every queue to publish to for `event`, without duplicates (results and success may name the same
 * queue, and one document per queue is what consumers count on).
 */
export function targets(message: MessageProperties, event: TargetEvent, config: QueueConfig): string[] {
  const out: string[] = [];
  for (const kind of KINDS_OF_EVENT[event]) {
    const queue = resolveQueue(message, kind, config);
    if (queue !== undefined && !out.includes(queue)) out.push(queue);
  }
  return out;
}
