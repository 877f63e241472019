import type { Config } from '@mtaq/config';
import { replies, type Reply } from '../smtp/replies.js';
import type { ChecksOutcome } from './inbound-checks.js';

/**
 * `smtp-check-reject` (an mtaq extension; MailerQ's checks only annotate, C28): the refusal for a
 * message whose checks say it should not be taken, or undefined. Only unauthenticated, untrusted
 * clients are ever refused: a logged-in user or a relay in `smtp-range` is ours to deal with.
 * DMARC honours the domain's `pct=` (RFC 7489 §6.6.4): a failing message outside the sampled share
 * is accepted and only annotated.
 */
export function checkRefusal(
  config: Config,
  outcome: ChecksOutcome,
  client: { readonly authenticated: boolean; readonly trusted: boolean },
  random: () => number = Math.random,
): Reply | undefined {
  const reject = config['smtp-check-reject'];
  if (reject.length === 0 || client.authenticated || client.trusted) return undefined;
  const dmarc = outcome.dmarc;
  if (reject.includes('dmarc') && dmarc?.result === 'fail' && dmarc.policy === 'reject' && (dmarc.pct === undefined || random() * 100 < dmarc.pct)) {
    return replies.dmarcRejected(dmarc.domain);
  }
  const spam = outcome.spam;
  const threshold = config['smtp-check-reject-score'] ?? spam?.required;
  if (reject.includes('spam') && spam && threshold !== undefined && spam.score >= threshold) {
    return replies.spamRejected(spam.score, threshold);
  }
  return undefined;
}
