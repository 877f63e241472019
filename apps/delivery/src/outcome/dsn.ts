/**
 * Bounces we generate (reference §7.5, I8, C53): an outgoing JSON document carrying an RFC 3464
 * `multipart/report; report-type=delivery-status` message back to the envelope sender.
 */

import { createHash } from 'node:crypto';
import type { Config } from '@mtaq/config';
import { headerBlock, rfc5322Date, tryParseTime, type MessageProperties, type OutgoingMessage, type ResultEntry } from '@mtaq/envelope';
import { synthesiseStatus } from './attempt.js';
import { resolveQueue } from './targets.js';

export type DsnEvent = 'failure' | 'success' | 'delay';

export interface DsnOptions {
  now: Date;
  /** Our name: Reporting-MTA and the MAILER-DAEMON address. Defaults to `smtp-hostname`. */
  hostname?: string;
  /** A bare id (e.g. from createMessageIdGenerator) becomes `<id@hostname>`; an id with `@` is used as is. */
  messageId: string;
  /** The original MIME when the message holds a store `key` instead of a `mime` string. */
  mime?: string | Buffer;
}

type DsnConfig = Pick<
  Config,
  'rabbitmq-results' | 'rabbitmq-success' | 'rabbitmq-failure' | 'rabbitmq-retry' | 'rabbitmq-dsn' | 'dsn-notify' | 'dsn-ret' | 'smtp-hostname'
>;

const NOTIFY_OF: Record<DsnEvent, string> = { failure: 'FAILURE', success: 'SUCCESS', delay: 'DELAY' };
const CRLF = '\r\n';

/** The NOTIFY keywords in force: `dsn.notify`, else `dsn-notify`; NEVER (or nothing) → none. */
export function notifyEvents(message: MessageProperties, config: Pick<Config, 'dsn-notify'>): Set<string> {
  const own = message.dsn?.notify;
  const raw = typeof own === 'string' && own.trim() !== '' ? own : config['dsn-notify'];
  const words = raw.split(',').map((w) => w.trim().toUpperCase()).filter((w) => w !== '');
  return words.includes('NEVER') ? new Set() : new Set(words);
}

/**
 * Whether `event` produces a bounce at all:
 * - the dsn queue (`queues.dsn`, else `rabbitmq-dsn`) is set: no queue means no bounces (I8);
 * - the envelope is non-empty: a null sender is a bounce already, answering it risks loops;
 * - NOTIFY includes the event;
 * - success: only when the remote did not advertise DSN. When it did, NOTIFY was passed on to it
 *   and it reports delivery itself (RFC 3461 §6.2), so a report of ours would be a duplicate;
 * - delay: only for the first transient failure, so a sender is warned once, not on every retry.
 *   `message.results` holds the attempts before `entry`.
 */
export function wantsDsn(message: MessageProperties, entry: ResultEntry, event: DsnEvent, config: DsnConfig): boolean {
  if (resolveQueue(message, 'dsn', config) === undefined) return false;
  if (typeof message.envelope !== 'string' || message.envelope.trim() === '') return false;
  if (!notifyEvents(message, config).has(NOTIFY_OF[event])) return false;
  if (event === 'success' && entry.dsn === true) return false;
  if (event === 'delay' && Array.isArray(message.results) && message.results.length > 0) return false;
  return true;
}

/**
 * The bounce for `entry` (the attempt that settled the event), or `undefined` when none is due (see
 * {@link wantsDsn}). The caller publishes it to `resolveQueue(message, 'dsn', config)`.
 *
 * Action is `failed`, `delayed`, or for success `relayed`: we hand the message to the recipient's
 * server, which RFC 3464 calls relaying into an environment that does not report delivery; it
 * would be `delivered` only if we put it in the mailbox ourselves.
 */
export function buildDsn(
  message: MessageProperties,
  entry: ResultEntry,
  event: DsnEvent,
  config: DsnConfig,
  options: DsnOptions,
): OutgoingMessage | undefined {
  if (!wantsDsn(message, entry, event, config)) return undefined;
  const sender = (message.envelope as string).trim();
  const hostname = options.hostname ?? config['smtp-hostname'];
  const ret = (message.dsn?.ret ?? config['dsn-ret']).toUpperCase() === 'FULL' ? 'FULL' : 'HDRS';
  const original = originalMime(message, options.mime);
  const bodyParts = [humanPart(message, entry, event, hostname), statusPart(message, entry, event, hostname)];
  if (original !== undefined) bodyParts.push(returnedPart(original, ret));

  const boundary = chooseBoundary(options.messageId, options.now, bodyParts);
  const headers = [
    `From: Mail Delivery System <MAILER-DAEMON@${hostname}>`,
    `To: <${sender}>`,
    `Subject: ${SUBJECT[event]}`,
    `Date: ${rfc5322Date(options.now)}`,
    `Message-ID: ${messageIdHeader(options.messageId, hostname)}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${boundary}"`,
  ];
  let mime = headers.join(CRLF) + CRLF + CRLF + 'This is a MIME-formatted message.  Portions of it may be unreadable without a MIME-capable mail program.' + CRLF;
  for (const part of bodyParts) mime += CRLF + `--${boundary}` + CRLF + part;
  mime += CRLF + `--${boundary}--` + CRLF;

  return { envelope: '', recipient: sender, mime };
}

const SUBJECT: Record<DsnEvent, string> = {
  failure: 'Delivery Status Notification (Failure)',
  success: 'Delivery Status Notification (Relayed)',
  delay: 'Delivery Status Notification (Delay)',
};

const ACTION: Record<DsnEvent, string> = { failure: 'failed', success: 'relayed', delay: 'delayed' };

function originalMime(message: MessageProperties, given: string | Buffer | undefined): string | undefined {
  const source = given ?? message.mime;
  if (typeof source === 'string') return source;
  if (Buffer.isBuffer(source)) return source.toString('utf8');
  return undefined;
}

/** Message fields may not contain line breaks; a multi-line reply reads fine as one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/\s+/g, ' ').trim();
}

/** Folds a field at blanks to stay near 78 characters; very long words are left whole. */
function fold(field: string): string {
  if (field.length <= 78) return field;
  const words = field.split(' ');
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > 78) {
      lines.push(line);
      line = ` ${word}`;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.join(CRLF);
}

/** The remote's name as written in the greeting, reduced to a host-name token. */
function remoteMta(entry: ResultEntry): string | undefined {
  const mta = typeof entry.mta === 'string' ? /^[A-Za-z0-9.\-_:[\]]+/.exec(entry.mta.trim())?.[0] : undefined;
  if (mta !== undefined && mta !== '') return mta;
  if (typeof entry.to === 'string' && entry.to !== '') return `[${entry.to}]`;
  return undefined;
}

function statusOf(entry: ResultEntry): string {
  return typeof entry.status === 'string' && /^[245]\.\d{1,3}\.\d{1,3}$/.test(entry.status) ? entry.status : synthesiseStatus(entry);
}

function diagnostic(entry: ResultEntry): string | undefined {
  if (typeof entry.code !== 'number') return undefined;
  const text = typeof entry.description === 'string' ? oneLine(entry.description) : '';
  return text === '' ? `smtp; ${entry.code}` : `smtp; ${entry.code} ${text}`;
}

/** `rfc822;a@b` stays; a bare address gets the rfc822 type (RFC 3461 ORCPT is `addr-type;addr`). */
function typedAddress(address: string): string {
  return /^[A-Za-z0-9-]+;/.test(address) ? address : `rfc822;${address}`;
}

/** Why it failed, in words, for the human-readable part. */
function explanation(entry: ResultEntry): string {
  const description = typeof entry.description === 'string' ? oneLine(entry.description) : '';
  if (typeof entry.code === 'number') {
    const who = remoteMta(entry) ?? 'The remote server';
    return `${who} answered: ${entry.code} ${statusOf(entry)} ${description}`.trimEnd();
  }
  const reason = REASON[`${entry.state}/${entry.result}`] ?? REASON[entry.state] ?? `Delivery stopped at the "${entry.state}" stage (${entry.result}).`;
  return description === '' ? reason : `${reason} (${description})`;
}

const REASON: Record<string, string> = {
  'process/timeout': 'The message could not be delivered within its time or attempt limit.',
  process: 'The message could not be processed.',
  suppression: 'The recipient address is on the suppression list.',
  storage: 'The message body could not be loaded.',
  responsive: 'The message could not be converted to MIME.',
  personalize: 'The message could not be personalised.',
  'dns/error': 'The recipient domain does not exist or has no mail servers.',
  dns: 'The recipient domain could not be looked up.',
  bind: 'No permitted source address was available to send from.',
  connect: 'No connection could be made to the recipient domain\'s mail servers.',
};

function humanPart(message: MessageProperties, entry: ResultEntry, event: DsnEvent, hostname: string): string {
  const recipient = message.recipient ?? '';
  const lines = [`This is the mail system at ${hostname}.`, ''];
  if (event === 'failure') {
    lines.push(`Your message to <${recipient}> could not be delivered. This is a permanent error; the mail system has given up.`);
  } else if (event === 'delay') {
    const until = typeof message.maxdelivertime === 'string' ? ` until ${message.maxdelivertime} UTC` : '';
    lines.push(`Your message to <${recipient}> has not been delivered yet. The mail system will keep trying${until}.`, 'You do not need to resend it.');
  } else {
    const where = remoteMta(entry);
    lines.push(`Your message to <${recipient}> was handed over to the recipient's mail server${where === undefined ? '' : ` ${where}`}.`);
  }
  if (event !== 'success') lines.push('', explanation(entry));
  const text = lines.join(CRLF) + CRLF;
  const head = ['Content-Type: text/plain; charset=utf-8', 'Content-Description: Notification'];
  // A server name or reply text may carry UTF-8; base64 keeps the part 7-bit clean then.
  if (/^[\x00-\x7f]*$/.test(text)) return [...head, 'Content-Transfer-Encoding: 7bit', '', text].join(CRLF);
  return [...head, 'Content-Transfer-Encoding: base64', '', base64Lines(text)].join(CRLF);
}

function base64Lines(text: string): string {
  return (Buffer.from(text, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join(CRLF) + CRLF;
}

function statusPart(message: MessageProperties, entry: ResultEntry, event: DsnEvent, hostname: string): string {
  const perMessage = [`Reporting-MTA: dns; ${hostname}`];
  const envid = message.dsn?.envid;
  if (typeof envid === 'string' && envid !== '') perMessage.push(`Original-Envelope-Id: ${oneLine(envid)}`);
  const arrived = typeof message.received === 'string' ? tryParseTime(message.received) : undefined;
  if (arrived !== undefined) perMessage.push(`Arrival-Date: ${rfc5322Date(arrived)}`);

  const recipient = oneLine(message.recipient ?? '');
  const orcpt = message.dsn?.orcpt;
  // The reference asks for Original-Recipient even without ORCPT (§7.5), using the recipient.
  const original = typeof orcpt === 'string' && orcpt.trim() !== '' ? typedAddress(oneLine(orcpt)) : `rfc822;${recipient}`;
  const perRecipient = [`Original-Recipient: ${original}`, `Final-Recipient: rfc822;${recipient}`, `Action: ${ACTION[event]}`, `Status: ${statusOf(entry)}`];
  const mta = remoteMta(entry);
  if (mta !== undefined) perRecipient.push(`Remote-MTA: dns; ${mta}`);
  const code = diagnostic(entry);
  if (code !== undefined) perRecipient.push(fold(`Diagnostic-Code: ${code}`));
  const attempted = tryParseTime(entry.time);
  if (attempted !== undefined) perRecipient.push(`Last-Attempt-Date: ${rfc5322Date(attempted)}`);
  if (event === 'delay' && typeof message.maxdelivertime === 'string') {
    const until = tryParseTime(message.maxdelivertime);
    if (until !== undefined) perRecipient.push(`Will-Retry-Until: ${rfc5322Date(until)}`);
  }
  return ['Content-Type: message/delivery-status', 'Content-Description: Delivery report', '', ...perMessage, '', ...perRecipient, ''].join(CRLF);
}

/** Third part: the headers (RET=HDRS) or the whole message (RET=FULL), line endings made CRLF. */
function returnedPart(mime: string, ret: 'FULL' | 'HDRS'): string {
  const normalised = mime.replace(/\r?\n/g, CRLF);
  const content = ret === 'FULL' ? normalised : headerBlock(normalised);
  const body = content.endsWith(CRLF) || content === '' ? content : content + CRLF;
  const head =
    ret === 'FULL'
      ? ['Content-Type: message/rfc822', 'Content-Description: Undelivered message']
      : ['Content-Type: text/rfc822-headers', 'Content-Description: Undelivered message headers'];
  // Only 7bit, 8bit or binary are allowed around message/rfc822; say 8bit when it is not 7-bit clean.
  if (!/^[\x00-\x7f]*$/.test(body)) head.push('Content-Transfer-Encoding: 8bit');
  return [...head, '', body].join(CRLF);
}

/**
 * Derived from the bounce's message id (unique per bounce) so the output is reproducible; checked
 * against the content because the returned message is arbitrary text.
 */
function chooseBoundary(messageId: string, now: Date, parts: readonly string[]): string {
  const seed = createHash('sha256').update(`${messageId}\0${now.getTime()}`).digest('hex').slice(0, 24);
  for (let i = 0; ; i++) {
    const boundary = `=_mtaq-dsn-${seed}${i === 0 ? '' : `-${i}`}`;
    if (!parts.some((part) => part.includes(`--${boundary}`))) return boundary;
  }
}

function messageIdHeader(id: string, hostname: string): string {
  const bare = id.replace(/^<|>$/g, '');
  return bare.includes('@') ? `<${bare}>` : `<${bare}@${hostname}>`;
}
