import { isUtf8 } from 'node:buffer';
import type { Config } from '@mtaq/config';
import { extractMqHeaders, formatTime, receivedHeader, receivedProtocol, type CheckResult, type SmtpIncomingMessage } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { withoutForgedResults } from '../checks/authentication-results.js';
import { MimeJson } from './json-bytes.js';
import type { ReportSummary } from './reports/index.js';
import { mappedSourceIps } from './source-ip.js';

export interface ComposeOptions {
  readonly config: Config;
  /** Trusted clients (and logged-in ones) may steer delivery with `x-mq-*` headers. */
  readonly isTrusted: (ip: string) => boolean;
  readonly nextId: () => string;
  /** The session's logger. */
  readonly log: Logger;
}

/** A received message made ready for the checks: what is stored, and our trace field. */
export interface PreparedMessage {
  /** The message as stored: `x-mq-*` headers taken out, forged Authentication-Results removed. */
  readonly body: Buffer;
  /** Our `Received:` field (CRLF-terminated), which goes on top. */
  readonly received: Buffer;
  /** Properties from `x-mq-*` headers a trusted or logged-in client sent. */
  readonly extracted: Record<string, unknown>;
  readonly at: Date;
  /** Size of the message as received. */
  readonly bytes: number;
}

/** What the checks and report detection add to the documents. */
export interface CheckAnnotations {
  /** The JSON `checks` array. */
  readonly checks?: CheckResult[];
  /** The Authentication-Results field, and which recipients' copies carry it. */
  readonly authResults?: { readonly field: string; readonly for: (recipient: string) => boolean };
  /** The message is a report: its summary, on the copies of the recipients it is for (local ones). */
  readonly report?: { readonly summary: ReportSummary; readonly for: (recipient: string) => boolean };
}

export interface ComposedMessage {
  /** One per recipient; their `mime` is a placeholder until `mime.encode()` (the message is held once). */
  readonly documents: SmtpIncomingMessage[];
  /** The message, JSON-escaped once for every copy. */
  readonly mime: MimeJson;
  /** A report (DSN, MDN, ARF, DMARC, TLS-RPT): its local copies go to `rabbitmq-reports`. */
  readonly report: boolean;
  /** Size of the message as received. */
  readonly bytes: number;
}

/**
 * The stored form of a received message: `x-mq-*` headers taken out (and honoured only for
 * trusted or logged-in clients), any Authentication-Results claiming our name removed (RFC 8601
 * §5: a forgery or a loop, whether or not we add our own), and our `Received:` made.
 */
export function prepareMessage(raw: Buffer, session: SMTPServerSession, options: ComposeOptions): PreparedMessage {
  const { config, log } = options;
  let body = raw;
  let extracted: Record<string, unknown> = {};
  if (config['smtp-extract']) {
    const result = extractMqHeaders(raw);
    body = result.mime;
    for (const warning of result.warnings) log.warn({ warning }, 'ignored x-mq header');
    // x-mq headers steer delivery (smarthost, source IP, envelope): only trusted or logged-in
    // clients may use them; from anyone else they are removed and ignored
    if (session.user || options.isTrusted(session.remoteAddress)) extracted = result.properties;
    else if (Object.keys(result.properties).length) log.warn({ properties: Object.keys(result.properties) }, 'x-mq headers from an untrusted client removed');
  }
  const stripped = withoutForgedResults(body, config['smtp-hostname']);
  if (stripped !== body) log.info('Authentication-Results claiming our name removed');
  const at = new Date();
  const received = receivedHeader({
    from: session.hostNameAppearsAs || '',
    remoteIp: session.remoteAddress,
    hostname: config['smtp-hostname'],
    protocol: receivedProtocol({
      esmtp: session.openingCommand !== 'HELO',
      tls: session.secure,
      auth: Boolean(session.user),
      utf8: Boolean(session.envelope.smtpUtf8),
    }),
    id: session.id,
    recipient: session.envelope.rcptTo.length === 1 ? session.envelope.rcptTo[0]!.address : undefined,
    tls: session.tlsOptions ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name } : undefined,
    date: at,
  });
  return { body: stripped, received: Buffer.from(received, 'utf8'), extracted, at, bytes: raw.length };
}

/**
 * One received message as its documents, one JSON per recipient. The raw bytes are not kept: the
 * documents hold the message once, as one string they share (plus, for the copies that carry it,
 * the Authentication-Results field).
 */
export function composeDocuments(prepared: PreparedMessage, session: SMTPServerSession, options: ComposeOptions, annotations: CheckAnnotations = {}): ComposedMessage {
  const { config } = options;
  const { body } = prepared;
  // JSON strings are Unicode: 8-bit mail that is not UTF-8 travels byte-for-byte as latin1 (our
  // Received: header is UTF-8, so the whole is UTF-8 exactly when the body is)
  const utf8 = isUtf8(body);
  const mime = new MimeJson([prepared.received, body], !utf8);
  const authResults = annotations.authResults;
  const withResults = authResults ? mime.withHead(Buffer.from(authResults.field, 'utf8')) : undefined;
  const documents = buildIncoming(
    {
      received: formatTime(prepared.at),
      hostname: config['smtp-hostname'],
      mime: (recipient) => (withResults !== undefined && authResults!.for(recipient) ? withResults : mime.placeholder),
      utf8,
      session,
      extracted: prepared.extracted,
      checks: annotations.checks,
      report: annotations.report ? (recipient) => (annotations.report!.for(recipient) ? annotations.report!.summary : undefined) : () => undefined,
      mappedIps: mappedSourceIps(session.localAddress, config['smtp-mappable-ips'], config['smtp-unmappable-ips']),
    },
    options.nextId,
  );
  return { documents, mime, report: annotations.report !== undefined, bytes: prepared.bytes };
}

export interface TransactionFacts {
  readonly received: string;
  readonly hostname: string;
  /** The JSON `mime` string of this recipient's copy (the message with our Received: on top). */
  readonly mime: (recipient: string) => string;
  /** False: `mime` is the message's bytes as latin1 (`mime-encoding: latin1`). */
  readonly utf8: boolean;
  readonly session: SMTPServerSession;
  /** Properties from `x-mq-*` headers (the extractor refuses names the ingress owns). */
  readonly extracted: Record<string, unknown>;
  /** The `checks` verdicts, when smtp-check ran any. */
  readonly checks?: CheckResult[] | undefined;
  /** The report summary this recipient's copy carries, if any. */
  readonly report: (recipient: string) => ReportSummary | undefined;
  /** `ips` from the mappable local address, if any; `x-mq-ip` wins over it. */
  readonly mappedIps: string[] | undefined;
}

/**
 * One JSON document per recipient (reference §3). The shared part is computed once; each recipient
 * only adds its id, address and DSN parameters.
 */
export function buildIncoming(facts: TransactionFacts, nextId: () => string): SmtpIncomingMessage[] {
  const { session, extracted } = facts;
  const mailFrom = session.envelope.mailFrom;
  const connection: SmtpIncomingMessage['connection'] = {
    'local-ip': session.localAddress,
    'local-port': session.localPort,
    'remote-ip': session.remoteAddress,
    'remote-port': session.remotePort,
    secure: session.secure,
    ...(session.user ? { user: String(session.user) } : {}),
  };
  const { utf8, checks } = facts;
  const envelopeDsn = session.envelope.dsn;
  const extractedDsn = (extracted['dsn'] ?? {}) as Record<string, string>;

  return session.envelope.rcptTo.map((rcpt) => {
    const dsn: Record<string, string> = {};
    if (envelopeDsn?.ret) dsn['ret'] = envelopeDsn.ret;
    if (envelopeDsn?.envid) dsn['envid'] = envelopeDsn.envid;
    if (rcpt.dsn?.notify?.length) dsn['notify'] = rcpt.dsn.notify.join(',');
    if (rcpt.dsn?.orcpt) dsn['orcpt'] = rcpt.dsn.orcpt;
    Object.assign(dsn, extractedDsn);
    const ips = (extracted['ips'] as string[] | undefined) ?? facts.mappedIps;
    const report = facts.report(rcpt.address);
    const message: SmtpIncomingMessage = {
      'message-id': nextId(),
      received: facts.received,
      hostname: facts.hostname,
      ...extracted,
      envelope: (extracted['envelope'] as string | undefined) ?? (mailFrom ? mailFrom.address : ''),
      recipient: rcpt.address,
      mime: facts.mime(rcpt.address),
      connection,
      ...(checks ? { checks } : {}),
      ...(report ? { report } : {}),
      ...(utf8 ? {} : { 'mime-encoding': 'latin1' }),
      ...(Object.keys(dsn).length ? { dsn } : {}),
      ...(ips ? { ips } : {}),
    };
    return message;
  });
}
