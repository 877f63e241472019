/**
 * Pure decisions of delivery (reference §6, §7.1–§7.5): what an attempt means, where the message
 * goes next, and what is published. No I/O here; the caller talks to RabbitMQ and SMTP.
 */

export { resultEntry, synthesiseStatus, expiredOutcome, localFailure, type AttemptOutcome } from './attempt.js';
export { classify, type Classification, type Classifiable } from './classify.js';
export {
  firstPickup,
  expiresAt,
  attemptLimit,
  expiry,
  isExpired,
  retryDelay,
  decide,
  type Decision,
  type ExpiryReason,
  type FailureReason,
} from './schedule.js';
export { resolveQueue, targets, type QueueKind, type TargetEvent } from './targets.js';
export {
  delayQueue,
  parkDelay,
  delayBucket,
  delayBuckets,
  publishPriority,
  STANDARD_DELAYS,
  MIN_DELAY_QUEUE_EXPIRES_MS,
  PAUSE_RECHECK_SECONDS,
  pauseParkQueue,
  type DelayQueue,
} from './delay-queues.js';
export { resultDocument, retryDocument, retryCopy, extract, type ResultDocumentOptions } from './result-document.js';
export { buildDsn, wantsDsn, notifyEvents, type DsnEvent, type DsnOptions } from './dsn.js';
export { conclude, type Conclusion, type Publication } from './conclusion.js';
export { loopingQueue, consumedByDelivery } from './loops.js';
export { unusableAddress } from './input.js';
export { deadLetterReason } from './dead-letter.js';
