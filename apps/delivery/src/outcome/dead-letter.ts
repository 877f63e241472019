/**
 * Messages the quorum outbox dead-lettered (`<outbox>.dead`, packages/queue topology): RabbitMQ
 * moves an outbox message there once it was redelivered `x-delivery-limit` times, typically because
 * it killed every process that took it. Delivery concludes each one into the failure queue with an
 * entry saying why, so none is dropped without a trace.
 */

import { QUORUM_DELIVERY_LIMIT } from '@mtaq/queue';

interface Death {
  reason?: unknown;
  queue?: unknown;
}

/** The `description` of the failure entry for a dead-lettered message, from its `x-death` header. */
export function deadLetterReason(headers: Record<string, unknown> | undefined): string {
  const deaths = Array.isArray(headers?.['x-death']) ? (headers['x-death'] as Death[]) : [];
  // x-death lists the most recent dead-lettering first
  const death = deaths[0];
  const reason = typeof death?.reason === 'string' ? death.reason : String(headers?.['x-first-death-reason'] ?? 'unknown');
  const queue = typeof death?.queue === 'string' ? death.queue : 'the outbox';
  if (reason === 'delivery_limit') {
    return `delivery-limit reached: the message was redelivered ${QUORUM_DELIVERY_LIMIT} times without being settled (dead-lettered from ${queue})`;
  }
  return `dead-lettered from ${queue} (${reason})`;
}
