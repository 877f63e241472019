import { createHash, hash } from 'node:crypto';
import type { ConsumeMessage } from 'amqplib';

/** AMQP header on every copy delivery republishes itself (retries, parked messages, bounces). */
export const COPY_HEADER = 'x-mtaq-copy';
/**
 * AMQP header on a broker redelivery that had to be parked because its claim could not be read
 * (Redis away, or its holder still busy). It carries the claim key of the original, so that when the
 * copy comes back it is checked against the very claim the earlier holder took.
 */
export const CHECK_HEADER = 'x-mtaq-check';

const COPY_ID = /^[A-Za-z0-9_-]{16,64}$/;
const CLAIM_KEY = /^[hc]:[A-Za-z0-9_-]{16,64}$/;

/**
 * Which delivery attempt a consumed message is, independent of the optional `message-id`: the copy
 * id delivery stamped on it, else a hash of the AMQP body and message-id property. The body holds
 * the recipient and the `results` so far, so the hash names one recipient's one attempt.
 */
export interface Identity {
  /** Redis-safe key part naming this attempt. */
  readonly key: string;
  /** A copy delivery published itself. */
  readonly stamped: boolean;
  /**
   * Whether an earlier holder may have worked on this attempt already: a broker redelivery, or a
   * stamped copy (which a crash may have published twice). Only these consult existing claims; a
   * producer that publishes the same JSON twice gets two deliveries, as it asked.
   */
  readonly mustCheck: boolean;
  /** A broker redelivery (or one parked while its claim could not be read). */
  readonly redelivered: boolean;
}

export function identify(message: ConsumeMessage): Identity {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const copy = headers[COPY_HEADER];
  const checked = headers[CHECK_HEADER];
  if (typeof checked === 'string' && CLAIM_KEY.test(checked)) return { key: checked, stamped: true, mustCheck: true, redelivered: true };
  const redelivered = message.fields.redelivered;
  if (typeof copy === 'string' && COPY_ID.test(copy)) return { key: `c:${copy}`, stamped: true, mustCheck: true, redelivered };
  const hash = createHash('sha256');
  hash.update(String(message.properties.messageId ?? ''));
  hash.update('\0');
  hash.update(message.content);
  return { key: `h:${hash.digest('base64url').slice(0, 32)}`, stamped: false, mustCheck: redelivered, redelivered };
}

export type CopyPurpose = 'retry' | 'park' | 'dsn' | 'failure';

/**
 * The id stamped on a copy published for `identity`. Deterministic, so that the same copy published
 * twice (by a holder that crashed after publishing and by the redelivery that replays it) is
 * recognised as one attempt and sent at most once.
 */
export function copyId(identity: Identity, purpose: CopyPurpose): string {
  // the one-shot hash: no Hash object per call (two of these per message)
  return hash('sha256', `${identity.key}\0${purpose}`, 'base64url').slice(0, 32);
}
