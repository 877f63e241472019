/**
 * What one delivery attempt produced, and its conversion into a `results` entry (reference §6).
 */

import { formatTime, type Certificate, type Cipher, type ResultEntry, type ResultKind, type ResultState } from '@mtaq/envelope';
import { classify, type Classification } from './classify.js';

/**
 * Everything the SMTP side (or a local check) knows after one attempt. `code`/`status`/`description`
 * are the remote reply when there was one; for local outcomes (expiry, DNS, bind, suppression,
 * forced errors) the caller fills in what it knows and {@link resultEntry} adds the status.
 */
export interface AttemptOutcome {
  state: ResultState;
  result: ResultKind;
  code?: number;
  status?: string;
  description?: string;
  /** Name from the 220 greeting. */
  mta?: string;
  /** Local source IP. */
  from?: string;
  /** Remote IP. */
  to?: string;
  messages?: number;
  sent?: { connection: number; data: number };
  /** Success only: the remote advertised DSN. */
  dsn?: boolean;
  cipher?: Cipher;
  certificate?: Certificate;
  authentication?: string;
  // Response-pattern flags (§7.10): copied into the entry because they decide classification.
  fatal?: boolean;
  greylisted?: boolean;
  individual?: boolean;
  strange?: boolean;
  fallback?: boolean;
}

/** The entry for a message consumed after its time or attempt limit (§7.1 step 2, C43). */
export function expiredOutcome(): AttemptOutcome {
  return { state: 'process', result: 'timeout' };
}

/**
 * A failure of ours, not a remote reply (DNS, source address, routing): the entry carries the RFC 3463
 * status and the reason and no reply code, so nothing downstream — a bounce above all — presents it
 * as a server's answer.
 */
export function localFailure(failure: { readonly state: ResultState; readonly status: string; readonly message: string }, transient: boolean): AttemptOutcome {
  return {
    state: failure.state,
    result: 'error',
    status: failure.status,
    description: failure.message,
    ...(transient ? {} : { fatal: true }),
  };
}

// Property order of the produced entry after state/result/time; JSON consumers diff these
// documents and read them by eye, so the order is fixed and follows the reference's examples.
const COPIED = [
  'code',
  'status',
  'description',
  'mta',
  'from',
  'to',
  'messages',
  'sent',
  'dsn',
  'cipher',
  'certificate',
  'authentication',
  'fatal',
  'greylisted',
  'individual',
  'strange',
  'fallback',
] as const satisfies readonly (keyof AttemptOutcome)[];

/**
 * The `results` entry for `outcome` at `now`. Remote values are copied untouched (I12); when the
 * attempt has no enhanced status one is synthesised (see {@link synthesiseStatus}). A reply code is
 * never invented: entries without a remote reply carry only what the caller supplied.
 * Undefined properties are left out, so the JSON holds only what is known.
 */
export function resultEntry(outcome: AttemptOutcome, now: Date): ResultEntry {
  const entry: Record<string, unknown> = { state: outcome.state, result: outcome.result, time: formatTime(now) };
  for (const key of COPIED) {
    let value: unknown = outcome[key];
    if (key === 'status' && (value === undefined || value === '')) value = synthesiseStatus(outcome);
    if (value !== undefined) entry[key] = value;
  }
  return entry as ResultEntry;
}

const CLASS_DIGIT: Record<Classification, '2' | '4' | '5'> = { accepted: '2', retry: '4', fatal: '5' };

/**
 * RFC 3463 status for an entry that has none.
 *
 * With a reply code the class comes from the code and the detail is `.0.0` ("other or undefined"):
 * the remote did not say more, and I12 rules out MailerQ's table that maps 250 to 2.5.0.
 *
 * Without a code (no reply: local decisions, timeouts, dropped connections) the class follows how
 * the entry is classified, so the status never contradicts what delivery does with the message,
 * and the subject/detail names the closest RFC 3463 condition for the state.
 */
export function synthesiseStatus(entry: Pick<ResultEntry, 'state' | 'result' | 'code' | 'fatal' | 'greylisted'>): string {
  const code = entry.code;
  if (code !== undefined && Number.isInteger(code) && code >= 200 && code < 600) {
    const digit = String(code)[0];
    if (digit === '2' || digit === '4' || digit === '5') return `${digit}.0.0`;
  }
  const cls = CLASS_DIGIT[classify({ ...entry, status: undefined })];
  return `${cls}.${detail(entry.state, entry.result)}`;
}

/** Subject.detail of RFC 3463 for an entry without a reply. */
function detail(state: ResultState, result: ResultKind): string {
  if (result === 'accepted') return '0.0';
  switch (state) {
    case 'process':
      if (result === 'timeout') return '4.7'; // delivery time expired
      if (result === 'invalid') return '1.3'; // the usual cause: missing or unusable recipient address
      return '3.5'; // no usable source IP for the message's settings: system incorrectly configured
    case 'suppression':
      return '7.1'; // delivery not authorised
    case 'storage':
      if (result === 'lost' || result === 'invalid') return '4.2';
      return '3.0';
    case 'responsive':
      return '6.5'; // conversion failed
    case 'personalize':
      return '6.0';
    case 'rewrite':
      return '3.0';
    case 'dns':
      // 5.1.2 bad destination system (no such domain / no mail hosts, §7.2); otherwise the resolver failed
      return result === 'error' ? '1.2' : '4.3';
    case 'bind':
      return '4.0'; // same as the routing package's BindError
    case 'connect':
      return result === 'lost' ? '4.2' : result === 'invalid' ? '5.0' : '4.1'; // 4.1: no answer from host
    case 'handshake':
      return '4.0';
    case 'starttls':
      return result === 'error' ? '7.0' : result === 'invalid' ? '5.0' : '4.2';
    default:
      if (result === 'timeout' || result === 'lost' || result === 'idle') return '4.2'; // bad connection
      if (result === 'invalid') return '5.0'; // protocol status: unparseable reply
      return '0.0';
  }
}
