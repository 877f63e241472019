/**
 * Runtime validators for the queue documents. Each one checks only the properties it knows, in
 * place, and returns the same object: unknown properties are never visited, so they survive
 * untouched into every republished copy. The few normalisations (legacy `delayed`, string ports,
 * DSN keyword case) are written back into the object.
 */

import { isIP } from 'node:net';
import { EnvelopeError } from '@mtaq/errors';
import {
  arrayOf,
  boolean,
  checkFields,
  fail,
  integer,
  Invalid,
  isPlainObject,
  nonEmptyString,
  nullable,
  object,
  oneOf,
  oneOrMany,
  plainObject,
  recordOf,
  string,
  time,
  type Check,
  type Schema,
} from './checks.js';
import { isTime } from './time.js';
import {
  RESULT_KINDS,
  RESULT_STATES,
  type IncomingMessage,
  type OutgoingMessage,
  type ResultEntry,
  type ResultMessage,
} from './types.js';

const NOTIFY = /^(?:NEVER|(?:SUCCESS|FAILURE|DELAY)(?:,(?:SUCCESS|FAILURE|DELAY))*)$/;

// DSN keywords are case-insensitive in SMTP (RFC 3461), so producers get the same leniency here.
const notify: Check<string> = (v) => {
  const up = typeof v === 'string' ? v.toUpperCase().replace(/\s+/g, '') : '';
  return NOTIFY.test(up) ? up : fail('expected NEVER or a comma list of SUCCESS, FAILURE, DELAY');
};

const ret: Check<string> = (v) => {
  const up = typeof v === 'string' ? v.toUpperCase() : '';
  return up === 'FULL' || up === 'HDRS' ? up : fail('expected FULL or HDRS');
};

const port = integer(1, 65535);

/**
 * An address that reaches an SMTP command line: CR, LF or any other control character in it would
 * end the command early or smuggle another one, so such a document is unusable (process/invalid).
 */
const noControls =
  (check: Check<string>): Check<string> =>
  (v) => {
    const s = check(v);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u001f\u007f]/.test(s) ? fail('must not contain control characters (CR, LF, NUL, …)') : s;
  };

/** §4 allows the smarthost port as a string. */
const smarthostPort: Check<number> = (v) => port(typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v);

const mime: Check = (v) =>
  typeof v === 'string' || isPlainObject(v) ? v : fail('expected a MIME string or a responsive-email object');

/** §4: an `ips` that is not an array is ignored, so it is dropped rather than failing the mail. */
const ips: Check<string[] | undefined> = (v) => (Array.isArray(v) ? arrayOf(string)(v) : undefined);

const canonicalization = oneOf(
  ['relaxed', 'simple'].flatMap((h) => [h, `${h}/relaxed`, `${h}/simple`]),
);

const dkimKey = object(
  {
    domain: nonEmptyString,
    selector: nonEmptyString,
    key: nonEmptyString,
    expire: time,
    headers: arrayOf(string),
    report: boolean,
    protocols: arrayOf(oneOf(['dkim', 'arc'])),
    canonicalization,
  },
  ['domain', 'selector', 'key'],
);

const headerValues = recordOf(oneOrMany(string));

const MESSAGE: Schema = {
  envelope: noControls(string),
  recipient: noControls(nonEmptyString),
  mime,
  key: nonEmptyString,
  keepmime: boolean,
  data: plainObject,
  ips,
  pool: string,
  nextattempt: object({ time }, ['time']),
  maxdelivertime: time,
  maxattempts: integer(0),
  retries: arrayOf(integer(0)),
  force: boolean,
  inlinecss: boolean,
  dkim: oneOrMany(dkimKey),
  dsn: object({ notify, ret, orcpt: string, envid: string }),
  queues: object(Object.fromEntries(['results', 'success', 'failure', 'retry', 'dsn'].map((k) => [k, nullable(string)]))),
  smarthost: object({ hostname: nonEmptyString, port: smarthostPort, username: string, password: string }, ['hostname']),
  tags: arrayOf(string),
  headers: object({
    remove: oneOrMany(string),
    replace: recordOf(string),
    update: recordOf(string),
    prepend: headerValues,
    append: headerValues,
    add: headerValues,
  }),
  priority: integer(0, 255),
  security: oneOf(['optional', 'opportunistic', 'required', 'verified']),
  // Entries are written by delivery (ours or MailerQ's, whose state list may grow); only
  // parseResultMessage holds them to the full entry schema.
  results: arrayOf(plainObject),
};

const ip: Check<string> = (v) => (typeof v === 'string' && isIP(v) !== 0 ? v : fail('expected an IP address'));

const INCOMING: Schema = {
  ...MESSAGE,
  mime: string,
  'message-id': nonEmptyString,
  received: time,
  hostname: nonEmptyString,
  connection: object(
    {
      'local-ip': ip,
      'local-port': integer(0, 65535),
      'remote-ip': ip,
      'remote-port': integer(0, 65535),
      secure: boolean,
      user: string,
    },
    ['local-ip', 'local-port', 'remote-ip', 'remote-port', 'secure'],
  ),
  checks: arrayOf(plainObject),
  spool: object({ directory: string, file: string, user: string, size: integer(0) }),
  cli: object({ command: string, arguments: arrayOf(string), user: string }),
  http: object({ authentication: string, 'remote-ip': ip, 'remote-port': integer(0, 65535) }),
};

const ENTRY: Schema = {
  state: oneOf(RESULT_STATES),
  result: oneOf(RESULT_KINDS),
  time,
  mta: string,
  from: string,
  to: string,
  code: integer(100, 599),
  status: string,
  description: string,
  dsn: boolean,
  messages: integer(0),
  sent: object({ connection: integer(0), data: integer(0) }, ['connection', 'data']),
  cipher: object({ name: string, bits: integer(0), algbits: integer(0), version: string }),
  certificate: plainObject,
  authentication: string,
  fatal: boolean,
  individual: boolean,
  strange: boolean,
  greylisted: boolean,
  fallback: boolean,
};
const ENTRY_FIELDS = Object.entries(ENTRY);
const ENTRY_REQUIRED = ['state', 'result', 'time'];
const entry = object<ResultEntry>(ENTRY, ENTRY_REQUIRED);

const parts = object({ local: string, domain: string });

const RESULT: Schema = {
  ...MESSAGE,
  // A result may describe input that had no usable recipient (process/invalid).
  recipient: string,
  results: arrayOf(entry),
  extracted: object({ from: string, to: arrayOf(string), subject: string, headers: plainObject, envelope: parts, recipient: parts }),
  invalid: string,
};

const MESSAGE_FIELDS = Object.entries(MESSAGE);
const INCOMING_FIELDS = Object.entries(INCOMING);
const RESULT_FIELDS = Object.entries(RESULT);

/** I9: read the ≤5.3 `delayed` property, write only `nextattempt`. */
function normaliseDelayed(doc: Record<string, unknown>): void {
  const delayed = doc.delayed;
  if (delayed === undefined) return;
  if (!isTime(delayed)) throw new Invalid('delayed', 'expected a UTC time "YYYY-MM-DD HH:MM:SS"');
  // When both are present the newer spelling wins.
  if (doc.nextattempt === undefined) doc.nextattempt = { time: delayed };
  delete doc.delayed;
}

function requireContent(doc: Record<string, unknown>): void {
  if (doc.mime === undefined && doc.key === undefined) throw new Invalid('mime', 'either mime or key is required');
}

/** Converts internal failures into the public error type at the package boundary. */
function guarded<T>(parse: (doc: Record<string, unknown>) => void): (value: unknown) => T {
  return (value) => {
    if (!isPlainObject(value)) throw new EnvelopeError('', 'expected a JSON object');
    try {
      parse(value);
    } catch (e) {
      if (e instanceof Invalid) throw new EnvelopeError(e.path, e.reason);
      throw e;
    }
    return value as T;
  };
}

/** Validates an outbox document (§4) in place and returns it typed. Throws EnvelopeError. */
export const parseOutgoing: (value: unknown) => OutgoingMessage = guarded((doc) => {
  normaliseDelayed(doc);
  checkFields(doc, MESSAGE_FIELDS, ['recipient']);
  requireContent(doc);
});

const INJECTION_PATHS = ['connection', 'spool', 'cli', 'http'];

/** Validates an inbox document (§3) in place and returns it typed. Throws EnvelopeError. */
export const parseIncoming: (value: unknown) => IncomingMessage = guarded((doc) => {
  normaliseDelayed(doc);
  checkFields(doc, INCOMING_FIELDS, ['recipient', 'envelope', 'received', 'hostname']);
  requireContent(doc);
  if (INJECTION_PATHS.every((k) => doc[k] === undefined)) {
    throw new Invalid('connection', 'one of connection, spool, cli or http is required');
  }
});

/** Validates one `results` entry (§6). Throws EnvelopeError. */
export const parseResultEntry: (value: unknown) => ResultEntry = guarded((doc) => {
  checkFields(doc, ENTRY_FIELDS, ENTRY_REQUIRED);
});

/** Validates a document from a result queue (§6): `mime` is usually gone, `results` is required. */
export const parseResultMessage: (value: unknown) => ResultMessage = guarded((doc) => {
  normaliseDelayed(doc);
  checkFields(doc, RESULT_FIELDS, ['results']);
});
