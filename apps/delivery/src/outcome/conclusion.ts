/**
 * Everything published to conclude one attempt (reference §6 queue routing, §7.3–§7.5), as data.
 * Built from the recorded outcome only — the entry and its time, never the clock — so a redelivery
 * that replays a conclusion publishes the same retry copy and the same bounce as the first holder.
 */

import type { Config } from '@mtaq/config';
import { tryParseTime, type MessageProperties, type OutgoingMessage, type ResultEntry } from '@mtaq/envelope';
import { buildDsn, type DsnEvent } from './dsn.js';
import { resultDocument, retryCopy, retryDocument } from './result-document.js';
import { decide, type Decision } from './schedule.js';
import { resolveQueue, type QueueKind } from './targets.js';

type ConclusionConfig = Pick<
  Config,
  | 'max-delivertime'
  | 'max-attempts'
  | 'retry-interval'
  | 'rabbitmq-results'
  | 'rabbitmq-success'
  | 'rabbitmq-failure'
  | 'rabbitmq-retry'
  | 'rabbitmq-dsn'
  | 'dsn-notify'
  | 'dsn-ret'
  | 'smtp-hostname'
>;

/** One document for one queue. `kind` says which configured queue stands in when this one cannot be used. */
export interface Publication {
  readonly kind: QueueKind;
  readonly queue: string;
  readonly document: object;
}

export interface Conclusion {
  readonly decision: Decision;
  readonly event: DsnEvent;
  /** Result documents (results/success/failure/retry queues): informational copies. */
  readonly results: readonly Publication[];
  /** The outbox copy for the next attempt: mail, which must not be lost. */
  readonly retry?: { readonly document: OutgoingMessage; readonly delaySeconds: number };
  /** The bounce, a new outgoing message. */
  readonly bounce?: Publication;
}

const KINDS: Record<'success' | 'failure' | 'retry', readonly QueueKind[]> = {
  success: ['results', 'success'],
  failure: ['results', 'failure'],
  retry: ['retry'],
};

/**
 * What to publish for `entry`; `bounceId()` becomes the bounce's Message-ID (deterministic per
 * attempt), asked for only when there is a bounce (it is a hash: most attempts need none).
 */
export function conclude(message: OutgoingMessage, entry: ResultEntry, config: ConclusionConfig, bounceId: () => string): Conclusion {
  const at = tryParseTime(entry.time) ?? new Date();
  const decision = decide(message, entry, at, config);
  const event: DsnEvent = decision.kind === 'retry' ? 'delay' : decision.kind;
  const document =
    decision.kind === 'retry' ? retryCopy(message, entry, decision.nextAttempt) : resultDocument(message, entry);
  const results = publications(message, KINDS[decision.kind], document, config);
  const retry = decision.kind === 'retry' ? { document: retryDocument(message, entry, decision.nextAttempt), delaySeconds: decision.delaySeconds } : undefined;
  const dsnQueue = resolveQueue(message, 'dsn', config);
  const bounceDocument =
    dsnQueue !== undefined && !noBounce(entry) ? buildDsn(message, entry, event, config, { now: at, messageId: bounceId() }) : undefined;
  return {
    decision,
    event,
    results,
    ...(retry ? { retry } : {}),
    ...(bounceDocument && dsnQueue !== undefined ? { bounce: { kind: 'dsn' as const, queue: dsnQueue, document: bounceDocument } } : {}),
  };
}

/** One publication per distinct queue (results and success may name the same queue). */
function publications(message: MessageProperties, kinds: readonly QueueKind[], document: object, config: ConclusionConfig): Publication[] {
  const out: Publication[] = [];
  for (const kind of kinds) {
    const queue = resolveQueue(message, kind, config);
    if (queue !== undefined && !out.some((p) => p.queue === queue)) out.push({ kind, queue, document });
  }
  return out;
}

/** Unusable input is not bounced: its envelope is not to be trusted as an address to write to. */
function noBounce(entry: ResultEntry): boolean {
  return entry.state === 'process' && entry.result === 'invalid';
}
