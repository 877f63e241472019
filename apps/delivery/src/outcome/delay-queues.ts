/**
 * Delays on RabbitMQ (reference §7.4 [design]): a message that must wait sits in a queue whose
 * per-queue TTL dead-letters it back into the outbox (the queue itself: @mtaq/queue delayQueueFor).
 * Only a bounded set of TTLs is used, because every distinct delay is a queue of its own.
 */

import type { Config } from '@mtaq/config';
import { tryParseTime, type MessageProperties } from '@mtaq/envelope';
import { delayQueueFor, MIN_DELAY_QUEUE_EXPIRES_MS, type DelayQueue } from '@mtaq/queue';

export { MIN_DELAY_QUEUE_EXPIRES_MS, type DelayQueue };

type DelayConfig = Pick<Config, 'rabbitmq-exchange' | 'rabbitmq-maxpriority' | 'rabbitmq-quorum' | 'rabbitmq-lazy'>;

/**
 * The delay queue for `seconds` that dead-letters into `outbox` (packages/queue's delayQueueFor
 * with the configured exchange and queue arguments).
 */
export function delayQueue(outbox: string, seconds: number, config: DelayConfig): DelayQueue {
  return delayQueueFor(outbox, seconds, {
    exchange: config['rabbitmq-exchange'],
    quorum: config['rabbitmq-quorum'],
    lazy: config['rabbitmq-lazy'],
    maxPriority: config['rabbitmq-maxpriority'] ?? 0,
  });
}

/**
 * Seconds until the message may be attempted, when that is more than 1 s away (§7.1 step 3, §7.4);
 * otherwise `undefined`: attempt now. Reads `nextattempt.time`, else the ≤5.3 `delayed` (I9).
 * Rounded up so a message never wakes before its time. An unparsable time is ignored rather than
 * honoured, as it could otherwise hold the message forever.
 */
export function parkDelay(message: MessageProperties, now: Date): number | undefined {
  const next = message.nextattempt;
  const raw =
    typeof next === 'object' && next !== null && typeof next.time === 'string'
      ? next.time
      : typeof message.delayed === 'string'
        ? message.delayed
        : undefined;
  if (raw === undefined) return undefined;
  const at = tryParseTime(raw);
  if (at === undefined) return undefined;
  const ms = at.getTime() - now.getTime();
  return ms > 1000 ? Math.ceil(ms / 1000) : undefined;
}

/** Delays (s) that always have a queue; ratios of at most 2.5 keep the number of re-parks low. */
export const STANDARD_DELAYS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400,
]);

/**
 * The delays that get a queue: {@link STANDARD_DELAYS} plus the configured `retry-interval` values,
 * so the default retry schedule waits exactly as configured in one hop. Sorted, without duplicates;
 * the caller may declare them all at start-up.
 */
export function delayBuckets(config: Pick<Config, 'retry-interval'>): number[] {
  const all = new Set<number>(STANDARD_DELAYS);
  for (const seconds of config['retry-interval']) if (Number.isFinite(seconds) && seconds > 0) all.add(Math.ceil(seconds));
  return [...all].sort((a, b) => a - b);
}

/**
 * The bucket to park a delay of `seconds` in, or 0 when no wait is needed.
 *
 * Rounding up keeps one hop but can make the message arrive far too late (e.g. 650 s → 900 s);
 * rounding down is punctual but needs the consumer to re-park the remainder, republishing the whole
 * message each time. So: the bucket at or above the delay when that is at most 10 % (or 1 s) late,
 * else the largest bucket below it, and the consumer re-parks what is left (§7.4). Delays beyond the
 * largest bucket wait in the largest one, as often as needed.
 */
export function delayBucket(seconds: number, config: Pick<Config, 'retry-interval'>): number {
  if (!(seconds > 0)) return 0;
  const wanted = Math.ceil(seconds);
  const buckets = delayBuckets(config);
  const largest = buckets[buckets.length - 1] as number;
  if (wanted >= largest) return largest;
  const above = buckets.find((b) => b >= wanted) as number;
  if (above - wanted <= Math.max(1, wanted * 0.1)) return above;
  let below = buckets[0] as number;
  for (const b of buckets) if (b <= wanted) below = b;
  return below;
}

/**
 * The AMQP priority for a republished copy of `message` (C55): its `priority` clamped to
 * `0..rabbitmq-maxpriority`, or `undefined` when priorities are off or the message has none.
 * Clamped because RabbitMQ treats anything above the maximum as the maximum anyway, and a negative
 * or fractional value is not a valid AMQP octet.
 */
export function publishPriority(message: MessageProperties, config: Pick<Config, 'rabbitmq-maxpriority'>): number | undefined {
  const max = config['rabbitmq-maxpriority'] ?? 0;
  const priority = message.priority;
  if (max <= 0 || typeof priority !== 'number' || !Number.isFinite(priority)) return undefined;
  return Math.min(Math.max(Math.round(priority), 0), max);
}

/**
 * Seconds a paused message waits in its park queue before it looks at the pauses again. Lifting a
 * pause releases the park queue at once (rules/release.ts, on the reload that no longer has it);
 * this TTL is the safety net when that release could not run (broker away, process restarted).
 */
export const PAUSE_RECHECK_SECONDS = 30;

/** The park queue of paused messages (§7.4 `<outbox>.park.<key>`), a TTL queue back into the outbox. */
export function pauseParkQueue(outbox: string): string {
  return `${outbox}.park.pause.${PAUSE_RECHECK_SECONDS}`;
}
