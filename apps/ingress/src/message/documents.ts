import { isUtf8 } from 'node:buffer';
import type { Config } from '@mtaq/config';
import { extractMqHeaders, formatTime, readHeaderFields, receivedHeader, receivedProtocol, type SmtpIncomingMessage } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { MimeJson } from './json-bytes.js';
import { mappedSourceIps } from './source-ip.js';

export interface ComposeOptions {
  readonly config: Config;
  /** Trusted clients (and logged-in ones) may steer delivery with `x-mq-*` headers. */
  readonly isTrusted: (ip: string) => boolean;
  readonly nextId: () => string;
  /** The session's logger. */
  readonly log: Logger;
}

/** DSNs, MDNs and DMARC/TLS reports (RFC 6522 multipart/report) at the top level. */
const REPORT_TYPE = /^multipart\/report\b/i;

export interface ComposedMessage {
  /** One per recipient; their `mime` is `mime.placeholder` until `mime.encode()` (the message is held once). */
  readonly documents: SmtpIncomingMessage[];
  /** The message, JSON-escaped once for every copy. */
  readonly mime: MimeJson;
  /** A top-level multipart/report (only looked at when `rabbitmq-reports` is set). */
  readonly report: boolean;
  /** Size of the message as received. */
  readonly bytes: number;
}

/**
 * One received message as its documents: `x-mq-*` headers taken out (and honoured only for
 * trusted or logged-in clients), our `Received:` on top, one JSON per recipient. The raw bytes are
 * not kept: the documents hold the message once, as one string they share.
 */
export function composeDocuments(raw: Buffer, session: SMTPServerSession, options: ComposeOptions): ComposedMessage {
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
  const now = new Date();
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
    date: now,
  });
  // JSON strings are Unicode: 8-bit mail that is not UTF-8 travels byte-for-byte as latin1 (our
  // Received: header is UTF-8, so the whole is UTF-8 exactly when the body is)
  const utf8 = isUtf8(body);
  const mime = new MimeJson([Buffer.from(received, 'utf8'), body], !utf8);
  const report = config['rabbitmq-reports'] !== '' && readHeaderFields(body).some((f) => f.name === 'content-type' && REPORT_TYPE.test(f.value));
  const documents = buildIncoming(
    {
      received: formatTime(now),
      hostname: config['smtp-hostname'],
      mime: mime.placeholder,
      utf8,
      session,
      extracted,
      mappedIps: mappedSourceIps(session.localAddress, config['smtp-mappable-ips'], config['smtp-unmappable-ips']),
    },
    options.nextId,
  );
  return { documents, mime, report, bytes: raw.length };
}

export interface TransactionFacts {
  readonly received: string;
  readonly hostname: string;
  /** The message with our Received: on top, as the JSON `mime` string. */
  readonly mime: string;
  /** False: `mime` is the message's bytes as latin1 (`mime-encoding: latin1`). */
  readonly utf8: boolean;
  readonly session: SMTPServerSession;
  /** Properties from `x-mq-*` headers (the extractor refuses names the ingress owns). */
  readonly extracted: Record<string, unknown>;
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
  const { utf8, mime } = facts;
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
    const message: SmtpIncomingMessage = {
      'message-id': nextId(),
      received: facts.received,
      hostname: facts.hostname,
      ...extracted,
      envelope: (extracted['envelope'] as string | undefined) ?? (mailFrom ? mailFrom.address : ''),
      recipient: rcpt.address,
      mime,
      connection,
      ...(utf8 ? {} : { 'mime-encoding': 'latin1' }),
      ...(Object.keys(dsn).length ? { dsn } : {}),
      ...(ips ? { ips } : {}),
    };
    return message;
  });
}
