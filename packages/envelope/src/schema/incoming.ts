/**
 * The incoming document (§3), what ingress publishes to the inbox (and local, reports, refused).
 * It is a valid outgoing document as well, so inbox may equal outbox.
 */

import { Type } from '@sinclair/typebox';
import { Address, Int, Ip, NonEmpty, Port, Time } from './leaves.js';
import { Open } from './open.js';
import { messageProperties } from './outgoing.js';

export const ConnectionSchema = Open(
  {
    'local-ip': Ip('address the client connected to'),
    'local-port': Port(),
    'remote-ip': Ip('the client (from the PROXY header behind a proxy)'),
    'remote-port': Port(),
    secure: Type.Boolean({ description: 'TLS was active' }),
    user: Type.Optional(Type.String({ description: 'present only when the client authenticated' })),
  },
  { description: 'the SMTP connection the message came in on' },
);

export const SpoolInfoSchema = Open(
  { directory: Type.Optional(Type.String()), file: Type.Optional(Type.String()), user: Type.Optional(Type.String()), size: Type.Optional(Int(0)) },
  { description: 'injected from a spool directory' },
);

export const CliInfoSchema = Open(
  { command: Type.Optional(Type.String()), arguments: Type.Optional(Type.Array(Type.String())), user: Type.Optional(Type.String()) },
  { description: 'injected from the command line' },
);

export const HttpInfoSchema = Open(
  { authentication: Type.Optional(Type.String()), 'remote-ip': Type.Optional(Ip()), 'remote-port': Type.Optional(Port()) },
  { description: 'injected over REST' },
);

/** One executed check, e.g. `{"spf":"pass","smtp.mailfrom":"a@x.com"}`. */
export const CheckResultSchema = Open({});

export const incomingProperties = {
  ...messageProperties,
  'message-id': Type.Optional(NonEmpty('per-recipient id, unique across instances (SMTP injection)')),
  received: Time('reception time'),
  hostname: NonEmpty('name of the receiving server'),
  envelope: Address(0, 'MAIL FROM ("" for <>), or x-mq-envelope when extraction is on'),
  recipient: Address(1, 'this RCPT TO address (one document per recipient)'),
  mime: Type.Optional(Type.String({ description: 'the message as received, minus extracted x-mq-* headers' })),
  connection: Type.Optional(ConnectionSchema),
  checks: Type.Optional(Type.Array(CheckResultSchema, { description: 'one object per executed check (smtp-check)' })),
  report: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'summary of a report (DSN, MDN, ARF, DMARC, TLS-RPT) sent to a local address' })),
  spool: Type.Optional(SpoolInfoSchema),
  cli: Type.Optional(CliInfoSchema),
  http: Type.Optional(HttpInfoSchema),
};

/** SMTP sets `connection`; spool, CLI and REST injection set `spool` / `cli` / `http` instead. */
export const IncomingSchema = Open(incomingProperties, {
  title: 'mtaq incoming message',
  description: 'What ingress publishes, one document per accepted recipient (MailerQ §3). Also a valid outgoing message.',
  allOf: [
    { anyOf: [{ required: ['mime'] }, { required: ['key'] }] },
    { anyOf: [{ required: ['connection'] }, { required: ['spool'] }, { required: ['cli'] }, { required: ['http'] }] },
  ],
});

/** What SMTP injection always sets. */
export const SmtpIncomingSchema = Open({
  ...incomingProperties,
  'message-id': NonEmpty(),
  connection: ConnectionSchema,
});
