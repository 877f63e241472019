import { AT_LEAST_ONCE_DEAD_LETTERING, queueArguments, type TopologyOptions } from './topology.js';

/**
 * Delays on RabbitMQ (reference §7.4 [design]): a message that must wait sits in a queue whose
 * per-queue TTL dead-letters it into a target queue. Used by delivery (retries back into the outbox)
 * and by `mtaq worker` (transient script errors back into the worker's input). Every distinct delay
 * is a queue of its own: a shared queue with per-message TTLs would hold short delays behind long
 * ones, since RabbitMQ only expires messages at the head.
 */
export interface DelayQueue {
  name: string;
  arguments: Record<string, unknown>;
  /**
   * RabbitMQ deletes a queue after `x-expires` without use even if it still holds messages, and
   * publishing does not count as use: only consumers, basic.get and re-declaring do. The queue is
   * therefore safe to publish to only while its last declaration is younger than this; declare it
   * again before publishing once it is older.
   */
  redeclareWithinMs: number;
}

/** x-expires never goes below this, so short delay queues are not torn down and re-created constantly. */
export const MIN_DELAY_QUEUE_EXPIRES_MS = 60_000;

/**
 * The delay queue `<target>.delay.<seconds>` (rounded up to whole seconds: the name and TTL must be
 * integers) that dead-letters into `target` through `exchange`. Its arguments combine the arguments
 * every mtaq queue gets (quorum / lazy / `x-max-priority`, C55) with the delay ones (under quorum
 * with at-least-once dead-lettering), computed
 * identically on every call because RabbitMQ refuses a re-declaration with different arguments.
 */
export function delayQueueFor(
  target: string,
  seconds: number,
  options: Pick<TopologyOptions, 'exchange' | 'quorum' | 'lazy' | 'maxPriority'>,
): DelayQueue {
  if (!Number.isFinite(seconds) || seconds <= 0) throw new RangeError(`a delay queue needs a positive delay, got ${seconds}`);
  const whole = Math.ceil(seconds);
  const ttl = whole * 1000;
  // 2×TTL leaves room for a full TTL between the declaration and the last publish (see redeclareWithinMs).
  const expires = Math.max(2 * ttl, MIN_DELAY_QUEUE_EXPIRES_MS);
  const args: Record<string, unknown> = {
    ...queueArguments(options),
    'x-message-ttl': ttl,
    // '' is the default exchange, where the routing key is the queue name: exactly the target.
    'x-dead-letter-exchange': options.exchange,
    'x-dead-letter-routing-key': target,
    'x-expires': expires,
    // under quorum a retry is dead-lettered at-least-once: it leaves the delay queue only once the
    // target confirmed it, so a broker failover between the two cannot make it vanish
    ...(options.quorum ? AT_LEAST_ONCE_DEAD_LETTERING : {}),
  };
  return { name: `${target}.delay.${whole}`, arguments: args, redeclareWithinMs: expires - ttl };
}
