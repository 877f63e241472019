/**
 * What producers may send beyond the schema's canonical form, rewritten in place before the check
 * (so the check, the types and the published schema all describe the canonical document):
 *
 * - the ≤5.3 `delayed: t` becomes `nextattempt: {time: t}` (I9; the newer spelling wins);
 * - a smarthost port given as a string of digits becomes a number (§4 allows both);
 * - DSN `notify` / `ret` are upper-cased, blanks dropped (RFC 3461 keywords are case-insensitive);
 * - an `ips` that is not an array is removed (§4: it is ignored).
 *
 * Anything that does not look fixable is left as it is, for the check to report.
 */

import { isPlainObject, type Problem } from './explain.js';
import { isTime } from './time.js';

export function normalise(doc: Record<string, unknown>): Problem | undefined {
  const delayed = doc.delayed;
  if (delayed !== undefined) {
    if (!isTime(delayed)) return { path: 'delayed', reason: 'expected a UTC time "YYYY-MM-DD HH:MM:SS"' };
    if (doc.nextattempt === undefined) doc.nextattempt = { time: delayed };
    delete doc.delayed;
  }
  const smarthost = doc.smarthost;
  if (isPlainObject(smarthost) && typeof smarthost.port === 'string' && /^\d{1,5}$/.test(smarthost.port)) {
    smarthost.port = Number(smarthost.port);
  }
  const dsn = doc.dsn;
  if (isPlainObject(dsn)) {
    if (typeof dsn.notify === 'string') dsn.notify = dsn.notify.toUpperCase().replace(/\s+/g, '');
    if (typeof dsn.ret === 'string') dsn.ret = dsn.ret.toUpperCase();
  }
  if (doc.ips !== undefined && !Array.isArray(doc.ips)) delete doc.ips;
  return undefined;
}
