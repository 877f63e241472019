/**
 * Result queues that would feed a message back to delivery (reference §6, issue "no loops"): a
 * result, success, failure or retry document published to the outbox (or one of delivery's own
 * delay and park queues) would be consumed and sent again, round after round. Bounces are new
 * messages and may go to the outbox (`rabbitmq-dsn: outbox`, I8).
 */

import type { Config } from '@mtaq/config';
import type { MessageProperties } from '@mtaq/envelope';
import { resolveQueue, type QueueKind } from './targets.js';

const LOOPING_KINDS = ['results', 'success', 'failure', 'retry'] as const satisfies readonly QueueKind[];

type LoopConfig = Pick<Config, 'rabbitmq-outbox' | 'rabbitmq-results' | 'rabbitmq-success' | 'rabbitmq-failure' | 'rabbitmq-retry' | 'rabbitmq-dsn'>;

/** Whether delivery consumes `queue`: the outbox itself, or a delay/park queue of it (§7.4). */
export function consumedByDelivery(queue: string, outbox: string): boolean {
  return queue === outbox || queue.startsWith(`${outbox}.delay.`) || queue.startsWith(`${outbox}.park.`);
}

/** The first result queue of `message` that delivery consumes from, or undefined. */
export function loopingQueue(message: MessageProperties, config: LoopConfig): { kind: QueueKind; queue: string } | undefined {
  for (const kind of LOOPING_KINDS) {
    const queue = resolveQueue(message, kind, config);
    if (queue !== undefined && consumedByDelivery(queue, config['rabbitmq-outbox'])) return { kind, queue };
  }
  return undefined;
}
