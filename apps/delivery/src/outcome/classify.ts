/**
 * Classification of one attempt (reference §7.2): delivered, worth another try, or final.
 */

import type { ResultEntry, ResultState } from '@mtaq/envelope';

export type Classification = 'accepted' | 'retry' | 'fatal';

export type Classifiable = Pick<ResultEntry, 'state' | 'result' | 'code' | 'status' | 'fatal' | 'greylisted'>;

// Failures that happen before any connection and come out the same on every try: the input, the
// suppression list, a missing stored body, a template or conversion error, or source-IP settings.
const DETERMINISTIC_STATES: ReadonlySet<ResultState> = new Set([
  'process',
  'suppression',
  'responsive',
  'personalize',
  'rewrite',
  'bind',
]);

/**
 * In order of precedence:
 * 1. `accepted` is final whatever else the entry says: the remote took responsibility, and a retry
 *    would deliver the mail twice.
 * 2. Response-pattern flags (§7.10) override the reply: `fatal: true` fails, `greylisted: true` or
 *    `fatal: false` retries (C58).
 * 3. A reply code: 5xx fatal, 4xx retry. Any other code outside an accepted state (e.g. a stray 3xx)
 *    is a protocol oddity and retried.
 * 4. Without a code, an enhanced status the caller supplied decides by its class: this lets local
 *    checks report a permanent condition (e.g. `starttls/error` with 5.7.10 when `security: required`
 *    cannot be met) without inventing a reply code.
 * 5. Otherwise by state and result. Timeouts, dropped connections, unparseable replies and refused
 *    connections are retried; `dns/error` is NXDOMAIN or no mail hosts and fatal, other DNS results
 *    (timeout, SERVFAIL reported as lost/invalid) are retried; `storage/error` (body not found) is
 *    fatal while the other storage results are retried.
 */
export function classify(entry: Classifiable): Classification {
  if (entry.result === 'accepted') return 'accepted';
  if (entry.fatal === true) return 'fatal';
  if (entry.greylisted === true || entry.fatal === false) return 'retry';

  const code = entry.code;
  if (code !== undefined) {
    if (code >= 500 && code < 600) return 'fatal';
    return 'retry';
  }

  const statusClass = /^([245])\.\d{1,3}\.\d{1,3}$/.exec(entry.status ?? '')?.[1];
  if (statusClass === '5') return 'fatal';
  if (statusClass === '4') return 'retry';

  if (DETERMINISTIC_STATES.has(entry.state)) return 'fatal';
  if (entry.state === 'dns' || entry.state === 'storage') return entry.result === 'error' ? 'fatal' : 'retry';
  return 'retry';
}
