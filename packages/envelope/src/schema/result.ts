/**
 * Result entries and result documents (§6): what delivery appends per attempt and publishes to
 * the results / success / failure / retry queues.
 */

import { Type } from '@sinclair/typebox';
import { Int, OneOf, Time } from './leaves.js';
import { Open } from './open.js';
import { messageProperties } from './outgoing.js';

export const RESULT_STATES = [
  'process',
  'suppression',
  'storage',
  'responsive',
  'personalize',
  'rewrite',
  'dns',
  'bind',
  'connect',
  'handshake',
  'intro',
  'ehlo',
  'helo',
  'starttls',
  'authplain',
  'authlogin',
  'authusername',
  'authpassword',
  'authcram',
  'authresponse',
  'mailfrom',
  'rcptto',
  'data',
  'message',
  'unknown',
] as const;

export const RESULT_KINDS = ['accepted', 'timeout', 'lost', 'invalid', 'error', 'idle'] as const;

export const CipherSchema = Open({
  name: Type.Optional(Type.String()),
  bits: Type.Optional(Int(0)),
  algbits: Type.Optional(Int(0)),
  version: Type.Optional(Type.String()),
  id: Type.Optional(Type.Union([Type.Number(), Type.String()])),
});

export const CertificateNameSchema = Open({
  common: Type.Optional(Type.String()),
  country: Type.Optional(Type.String()),
  locality: Type.Optional(Type.String()),
  state: Type.Optional(Type.String()),
  organization: Type.Optional(Type.String()),
});

export const CertificateSchema = Open({
  notbefore: Type.Optional(Type.String()),
  notafter: Type.Optional(Type.String()),
  version: Type.Optional(Type.Number()),
  verified: Type.Optional(Type.Boolean()),
  result: Type.Optional(Type.String()),
  keyusage: Type.Optional(Type.Unknown()),
  'self-signed': Type.Optional(Type.Boolean()),
  subject: Type.Optional(CertificateNameSchema),
  issuer: Type.Optional(CertificateNameSchema),
  altnames: Type.Optional(Type.Array(Type.String())),
});

const flag = (description: string) => Type.Optional(Type.Boolean({ description }));

export const ResultEntrySchema = Open(
  {
    state: OneOf(RESULT_STATES, 'phase in which the attempt ended'),
    result: OneOf(RESULT_KINDS, 'accepted comes only with state message; error: a valid negative reply'),
    time: Time('time of the result'),
    mta: Type.Optional(Type.String({ description: 'remote name from the 220 greeting; absent without a connection' })),
    from: Type.Optional(Type.String({ description: 'local source IP' })),
    to: Type.Optional(Type.String({ description: 'remote IP' })),
    code: Type.Optional(Int(100, 599, 'SMTP reply code, remote or synthesised')),
    status: Type.Optional(Type.String({ description: 'enhanced status code, e.g. 4.7.1' })),
    description: Type.Optional(Type.String({ description: 'reply text or the reason' })),
    dsn: Type.Optional(Type.Boolean({ description: 'success only: the remote advertised DSN' })),
    messages: Type.Optional(Int(0, undefined, 'messages sent over this connection so far')),
    sent: Type.Optional(Open({ connection: Int(0), data: Int(0) }, { description: 'bytes on this connection: all, and MIME' })),
    cipher: Type.Optional(CipherSchema),
    certificate: Type.Optional(CertificateSchema),
    authentication: Type.Optional(Type.String({ description: 'AUTH mechanism used' })),
    fatal: flag('set by a response pattern: final failure'),
    individual: flag('set by a response pattern'),
    strange: flag('set by a response pattern'),
    greylisted: flag('set by a response pattern'),
    fallback: flag('set by a response pattern'),
  },
  { title: 'mtaq result entry', description: 'One delivery attempt (MailerQ §6).' },
);

const AddressPartsSchema = Open({ local: Type.Optional(Type.String()), domain: Type.Optional(Type.String()) });

export const ExtractedSchema = Open(
  {
    from: Type.Optional(Type.String()),
    to: Type.Optional(Type.Array(Type.String())),
    subject: Type.Optional(Type.String()),
    headers: Type.Optional(Open({})),
    envelope: Type.Optional(AddressPartsSchema),
    recipient: Type.Optional(AddressPartsSchema),
  },
  { description: 'summary of the MIME as finally sent' },
);

export const ResultMessageSchema = Open(
  {
    ...messageProperties,
    results: Type.Array(ResultEntrySchema, { description: 'one entry per attempt, oldest first' }),
    extracted: Type.Optional(ExtractedSchema),
    invalid: Type.Optional(Type.String({ description: 'the raw body of an input document that was not JSON' })),
  },
  {
    title: 'mtaq result document',
    description: 'The outgoing document as consumed, mime removed unless keepmime, with results and extracted (MailerQ §6).',
  },
);
