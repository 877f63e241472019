import { isUtf8 } from 'node:buffer';
import type { Config } from '@mtaq/config';
import { extractMqHeaders, formatTime, receivedHeader, receivedProtocol, type SmtpIncomingMessage } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { mappedSourceIps } from './source-ip.js';

export interface ComposeOptions {
  readonly config: Config;
  /** Trusted clients (and logged-in ones) may steer delivery with `x-mq-*` headers. */
  readonly isTrusted: (ip: string) => boolean;
  readonly nextId: () => string;
  /** The session's logger. */
  readonly log: Logger;
}

/**
 * One received message as its documents: `x-mq-*` headers taken out (and honoured only for
 * trusted or logged-in clients), our `Received:` on top, one JSON per recipient. Returns the
 * documents and the body as received minus the `x-mq-*` headers (which the queue routing reads).
 */
export function composeDocuments(raw: Buffer, session: SMTPServerSession, options: ComposeOptions): { documents: SmtpIncomingMessage[]; body: Buffer } {
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
  const documents = buildIncoming(
    {
      received: formatTime(now),
      hostname: config['smtp-hostname'],
      mime: Buffer.concat([Buffer.from(received, 'utf8'), body]),
      session,
      extracted,
      mappedIps: mappedSourceIps(session.localAddress, config['smtp-mappable-ips'], config['smtp-unmappable-ips']),
    },
    options.nextId,
  );
  return { documents, body };
}

export interface TransactionFacts {
  readonly received: string;
  readonly hostname: string;
  readonly mime: Buffer;
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
  // JSON strings are Unicode: 8-bit mail that is not UTF-8 travels byte-for-byte as latin1
  const utf8 = isUtf8(facts.mime);
  const mime = facts.mime.toString(utf8 ? 'utf8' : 'latin1');
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
