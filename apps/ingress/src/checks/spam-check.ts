import type { CheckResult } from '@mtaq/envelope';
import type { SpamdClient } from '@mtaq/spamd';

/** The spam outcome smtp-check-reject decides on. */
export interface SpamVerdict {
  readonly spam: boolean;
  readonly score: number;
  readonly required: number;
}

export interface SpamOutcome {
  readonly entry: CheckResult;
  readonly verdict: SpamVerdict | undefined;
}

/**
 * SpamAssassin's verdict on the message as it will be stored (our Received: first, so spamd sees
 * the hop it came in on). A message above `spamassassin-maxsize` is not sent at all, as spamc does;
 * spamd down, slow or confused is a temperror: the message is still accepted (checks annotate).
 */
export async function checkSpam(spamd: SpamdClient, message: readonly Buffer[], options: { maxSize: number; budget: AbortSignal; timeoutMs: number }): Promise<SpamOutcome> {
  const size = message.reduce((n, part) => n + part.length, 0);
  if (size > options.maxSize) {
    return { entry: { spam: 'none', reason: `not checked: ${size} bytes is more than spamassassin-maxsize (${options.maxSize})` }, verdict: undefined };
  }
  try {
    const verdict = await spamd.check(message, { timeoutMs: options.timeoutMs, signal: options.budget });
    return {
      entry: { spam: verdict.spam ? 'spam' : 'ham', score: verdict.score, required: verdict.required },
      verdict: { spam: verdict.spam, score: verdict.score, required: verdict.required },
    };
  } catch (error) {
    const reason = options.budget.aborted ? 'spamd did not answer within smtp-check-timeout' : `spamd: ${(error as Error).message}`;
    return { entry: { spam: 'temperror', reason }, verdict: undefined };
  }
}
