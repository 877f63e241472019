/**
 * Retry schedule and limits (reference §7.1 step 2, §7.3, I15): when to try again, and when to
 * stop trying.
 */

import type { Config } from '@mtaq/config';
import { formatTime, tryParseTime, type MessageProperties, type ResultEntry, type Time } from '@mtaq/envelope';
import { classify } from './classify.js';

type ScheduleConfig = Pick<Config, 'max-delivertime' | 'max-attempts' | 'retry-interval'>;

/**
 * The `maxdelivertime` to write into the message on first consume, or `undefined` when it already
 * carries one. Returned rather than written so the caller decides which copy to change; every
 * document republished afterwards (retries, results) must carry it, because it is the only record
 * of the first pickup (§7.1 [design]). An unparsable value counts as absent (the outbox parser
 * normally rejects those already) so a broken limit cannot keep a message alive forever.
 */
export function firstPickup(message: MessageProperties, now: Date, config: Pick<Config, 'max-delivertime'>): Time | undefined {
  if (typeof message.maxdelivertime === 'string' && tryParseTime(message.maxdelivertime) !== undefined) return undefined;
  return formatTime(new Date(now.getTime() + config['max-delivertime'] * 1000));
}

/**
 * When the message gives up. A message that never went through {@link firstPickup} has no record of
 * its first pickup, so its limit is counted from `now`: it cannot expire on time this round.
 */
export function expiresAt(message: MessageProperties, now: Date, config: Pick<Config, 'max-delivertime'>): Date {
  const written = typeof message.maxdelivertime === 'string' ? tryParseTime(message.maxdelivertime) : undefined;
  return written ?? new Date(now.getTime() + config['max-delivertime'] * 1000);
}

/** The attempt cap in force: the message's `maxattempts` when > 0, else `max-attempts` when > 0. */
export function attemptLimit(message: MessageProperties, config: Pick<Config, 'max-attempts'>): number | undefined {
  const own = message.maxattempts;
  // 0 or a negative count in the message means "no cap of its own", like the config key.
  if (typeof own === 'number' && Number.isFinite(own) && own > 0) return Math.floor(own);
  const configured = config['max-attempts'];
  return configured > 0 ? configured : undefined;
}

export type ExpiryReason = 'time' | 'attempts';

/**
 * Why the message must not be attempted any more (§7.1 step 2), or `undefined`. Both limits always
 * apply (I15). `attemptsSoFar` is the number of `results` entries: parking never adds one.
 */
export function expiry(message: MessageProperties, attemptsSoFar: number, now: Date, config: ScheduleConfig): ExpiryReason | undefined {
  if (now.getTime() > expiresAt(message, now, config).getTime()) return 'time';
  const limit = attemptLimit(message, config);
  if (limit !== undefined && attemptsSoFar >= limit) return 'attempts';
  return undefined;
}

export function isExpired(message: MessageProperties, attemptsSoFar: number, now: Date, config: ScheduleConfig): boolean {
  return expiry(message, attemptsSoFar, now, config) !== undefined;
}

/**
 * Seconds to wait before attempt `attemptNumber + 1`, i.e. after `attemptNumber` attempts:
 * `retries[min(n-1, len-1)]` from the message, else the same index into `retry-interval` (the last
 * element repeats, I7). A message `retries` that is not a non-empty list of non-negative numbers is
 * ignored rather than trusted, since a garbage value must not stall or spin the message.
 */
export function retryDelay(message: MessageProperties, attemptNumber: number, config: Pick<Config, 'retry-interval'>): number {
  const own = message.retries;
  const list: readonly number[] =
    Array.isArray(own) && own.length > 0 && own.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)
      ? own
      : config['retry-interval'];
  const index = Math.min(Math.max(Math.floor(attemptNumber), 1) - 1, list.length - 1);
  return list[index] ?? 0;
}

export type FailureReason = 'fatal' | 'expired' | 'attempts';

export type Decision =
  | { kind: 'success' }
  | { kind: 'failure'; reason: FailureReason }
  | { kind: 'retry'; nextAttempt: Date; delaySeconds: number };

/**
 * What to do after an attempt. `message` is the document as consumed (its `results` hold the
 * earlier attempts only) and `entry` the attempt just made, so this is attempt
 * `message.results.length + 1`.
 *
 * A transient failure becomes final right away, with that entry last (§7.3), when the attempt cap is
 * reached (C42) or the next attempt would fall after the expiry time (C44): holding a message that
 * can no longer be tried only delays the sender's bounce. An attempt exactly at the expiry time is
 * still allowed, matching the `now > maxdelivertime` test on consume.
 */
export function decide(message: MessageProperties, entry: ResultEntry, now: Date, config: ScheduleConfig): Decision {
  const outcome = classify(entry);
  if (outcome === 'accepted') return { kind: 'success' };
  if (outcome === 'fatal') {
    // The expiry check on consume records process/timeout; report it as such, not as a bad reply.
    const expired = entry.state === 'process' && entry.result === 'timeout';
    return { kind: 'failure', reason: expired ? 'expired' : 'fatal' };
  }
  const attempts = (Array.isArray(message.results) ? message.results.length : 0) + 1;
  const limit = attemptLimit(message, config);
  if (limit !== undefined && attempts >= limit) return { kind: 'failure', reason: 'attempts' };
  const delaySeconds = retryDelay(message, attempts, config);
  const nextAttempt = new Date(now.getTime() + delaySeconds * 1000);
  if (nextAttempt.getTime() > expiresAt(message, now, config).getTime()) return { kind: 'failure', reason: 'expired' };
  return { kind: 'retry', nextAttempt, delaySeconds };
}
