import { isUtf8 } from 'node:buffer';
import type { SmtpIncomingMessage } from '@mtaq/envelope';
import type { SMTPServerSession } from 'smtp-server';

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
