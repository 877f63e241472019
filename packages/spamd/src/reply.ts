import { SpamdError } from './errors.js';

/**
 * spamd's reply to SYMBOLS, read as it arrives. spamd closes the connection after replying, but the
 * reply carries its own Content-length, so a complete reply settles the check without waiting for
 * the close, and a peer that is not spamd is refused on its first line instead of at the timeout.
 *
 *   SPAMD/1.1 0 EX_OK\r\n
 *   Content-length: 11\r\n
 *   Spam: False ; -1.0 / 5.0\r\n
 *   \r\n
 *   ALL_TRUSTED
 *
 * A refused request is a lone status line: `SPAMD/1.0 76 Bad header line: (...)`.
 */

export interface SpamVerdict {
  spam: boolean;
  /** May be negative: rules such as ALL_TRUSTED subtract. */
  score: number;
  /** spamd's required_score: spam is `score >= required`, as spamd decided it. */
  required: number;
  /** Names of the rules that matched, as SYMBOLS reports them (no sub-rules `__X`). */
  rules: string[];
}

/**
 * A SYMBOLS reply is a few hundred bytes; anything near this is not spamd, and holding it would
 * let a wrong peer make us buffer without bound until the timeout.
 */
export const MAX_REPLY_BYTES = 64 * 1024;

const STATUS_PREFIX = Buffer.from('SPAMD/');
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
// spamd writes `SPAMD/1.1 0 EX_OK`; the version is not checked beyond its shape, since spamd
// answers 1.0/1.1/1.5 depending on the reply type, not on what we asked.
const STATUS_LINE = /^SPAMD\/\d+\.\d+ +(\d+) +(.*)$/;
// `%2.1f` in spamd: always one decimal, a minus sign for negatives; older spamd said Yes/No.
const SPAM_HEADER = /^(True|False|Yes|No) *; *(-?\d+(?:\.\d+)?) *\/ *(-?\d+(?:\.\d+)?)$/i;
const RULE_NAME = /^[A-Za-z0-9_]+$/;

function protocolError(message: string, resultCode?: number): SpamdError {
  return new SpamdError('protocol', message, resultCode === undefined ? undefined : { resultCode });
}

/** Printable excerpt of what the peer sent, for the error message. */
function excerpt(bytes: Buffer): string {
  const text = bytes.subarray(0, 80).toString('latin1');
  return JSON.stringify(text.length < bytes.length ? `${text}...` : text);
}

/**
 * The verdict once `reply` (everything received so far) is complete, `undefined` while more is
 * needed. Throws a 'protocol' SpamdError as soon as the bytes cannot become a good reply. With
 * `ended`, the peer has closed: an incomplete reply is then an error too.
 */
export function parseReply(reply: Buffer, ended = false): SpamVerdict | undefined {
  if (reply.length > MAX_REPLY_BYTES) throw protocolError(`reply longer than ${MAX_REPLY_BYTES} bytes`);
  const lineEnd = reply.indexOf(CRLF);
  if (lineEnd < 0) {
    const head = reply.subarray(0, STATUS_PREFIX.length);
    if (!head.equals(STATUS_PREFIX.subarray(0, head.length))) throw protocolError(`not a spamd reply: ${excerpt(reply)}`);
    if (ended) throw protocolError(`connection closed inside the status line: ${excerpt(reply)}`);
    return undefined;
  }
  const status = STATUS_LINE.exec(reply.subarray(0, lineEnd).toString('latin1'));
  if (!status) throw protocolError(`not a spamd status line: ${excerpt(reply.subarray(0, lineEnd))}`);
  const resultCode = Number(status[1]);
  if (resultCode !== 0) throw protocolError(`spamd answered ${resultCode} ${status[2]}`, resultCode);

  // The blank line may come right after the status line (no headers) or after the headers.
  const headersEnd = reply.indexOf(HEADER_END, lineEnd);
  if (headersEnd < 0) {
    if (ended) throw protocolError('connection closed before the end of the reply headers');
    return undefined;
  }
  let contentLength: number | undefined;
  let spamHeader: string | undefined;
  const headerLines = reply.subarray(lineEnd + CRLF.length, headersEnd).toString('latin1');
  for (const line of headerLines === '' ? [] : headerLines.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError(`reply header not in 'Name: value' form: ${excerpt(Buffer.from(line, 'latin1'))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,9}$/.test(value)) throw protocolError(`bad Content-length in the reply: ${JSON.stringify(value)}`);
      contentLength = Number(value);
    } else if (name === 'spam') {
      spamHeader = value;
    }
    // other headers (none from spamd 4.0 for SYMBOLS) are ignored, as spamc does
  }
  if (contentLength === undefined) throw protocolError('reply without Content-length');
  if (spamHeader === undefined) throw protocolError('reply without a Spam header');

  const body = reply.subarray(headersEnd + HEADER_END.length);
  if (body.length > contentLength) throw protocolError(`reply body longer than its Content-length ${contentLength}`);
  if (body.length < contentLength) {
    if (ended) throw protocolError(`connection closed after ${body.length} of ${contentLength} reply body bytes`);
    return undefined;
  }

  const spam = SPAM_HEADER.exec(spamHeader);
  if (!spam) throw protocolError(`bad Spam header: ${JSON.stringify(spamHeader)}`);
  const rules = body
    .toString('latin1')
    .split(',')
    .map((rule) => rule.trim())
    .filter((rule) => rule !== '');
  const badRule = rules.find((rule) => !RULE_NAME.test(rule));
  if (badRule !== undefined) throw protocolError(`bad rule name in the reply: ${JSON.stringify(badRule)}`);
  const verdict = (spam[1] ?? '').toLowerCase();
  return {
    spam: verdict === 'true' || verdict === 'yes',
    score: Number(spam[2]),
    required: Number(spam[3]),
    rules,
  };
}
