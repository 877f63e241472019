/**
 * The outgoing document (§4), the one delivery consumes from the outbox. Every property here is
 * one delivery acts on; the descriptions end up in schemas/outgoing.schema.json for other languages.
 */

import { Type } from '@sinclair/typebox';
import { Address, Int, NonEmpty, Notify, OneOf, OneOrMany, Time } from './leaves.js';
import { Open } from './open.js';

export const DsnSchema = Open(
  {
    notify: Type.Optional(Notify()),
    ret: Type.Optional(OneOf(['FULL', 'HDRS'] as const, 'FULL: bounce with the whole message; HDRS: headers only (mtaq upper-cases first)')),
    orcpt: Type.Optional(Type.String({ description: 'original recipient, e.g. "rfc822;bob@example.org"' })),
    envid: Type.Optional(Type.String({ description: 'envelope id, returned in bounces' })),
  },
  { description: 'DSN parameters (RFC 3461) sent with MAIL FROM / RCPT TO when the remote supports DSN; notify also decides which bounces mtaq generates' },
);

const QueueName = Type.Union([Type.String(), Type.Null()], { description: 'queue name; null: do not publish this kind' });

export const QueuesSchema = Open(
  {
    results: Type.Optional(QueueName),
    success: Type.Optional(QueueName),
    failure: Type.Optional(QueueName),
    retry: Type.Optional(QueueName),
    dsn: Type.Optional(QueueName),
  },
  { description: 'per-message result queues; a missing kind uses the configured queue, null publishes nowhere' },
);

export const SmarthostSchema = Open(
  {
    hostname: NonEmpty('relay to send through instead of the MX hosts'),
    port: Type.Optional(Int(1, 65535, 'default 25; a string of digits is accepted and turned into a number')),
    username: Type.Optional(Type.String()),
    password: Type.Optional(Type.String()),
  },
  { description: 'send through this relay, overriding the configured smarthost' },
);

const CANONICALIZATIONS = ['relaxed', 'simple'].flatMap((h) => [h, `${h}/relaxed`, `${h}/simple`]);

export const DkimKeySchema = Open({
  domain: NonEmpty('d= of the signature'),
  selector: NonEmpty('s= of the signature'),
  key: NonEmpty('PEM private key'),
  expire: Type.Optional(Time('x= of the signature')),
  headers: Type.Optional(Type.Array(Type.String(), { description: 'extra header fields to sign' })),
  report: Type.Optional(Type.Boolean()),
  protocols: Type.Optional(Type.Array(OneOf(['dkim', 'arc'] as const))),
  canonicalization: Type.Optional(OneOf(CANONICALIZATIONS, 'header/body, default relaxed/simple')),
});

const HeaderValues = Type.Record(Type.String(), OneOrMany(Type.String()), {
  description: 'header name → value, or values for several fields',
});

export const HeaderEditsSchema = Open(
  {
    remove: Type.Optional(OneOrMany(Type.String(), 'names of header fields to remove (every occurrence)')),
    replace: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'rewrite the first occurrence, drop the rest, append when absent' })),
    update: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'like replace, but never appends' })),
    prepend: Type.Optional(HeaderValues),
    append: Type.Optional(HeaderValues),
    add: Type.Optional(HeaderValues),
  },
  { description: 'header edits, applied remove → replace → update → prepend → append (add is an alias of append), before DKIM signing' },
);

export const NextAttemptSchema = Open({ time: Time('do not attempt before this time') });

/**
 * The properties any message document may carry (outgoing, incoming and result documents share
 * them). `recipient` is optional here because a result for unusable input may lack it.
 */
export const messageProperties = {
  'message-id': Type.Optional(Type.String({ description: 'id given by ingress (SMTP); carried through delivery into results and logs' })),
  envelope: Type.Optional(Address(0, 'MAIL FROM address; missing or "" sends MAIL FROM:<> (no bounces possible)')),
  recipient: Type.Optional(Address(1, 'RCPT TO address')),
  mime: Type.Optional(
    Type.Union([Type.String(), Open({})], {
      description: 'the raw RFC 5322 message (CRLF line ends); an object (a "responsive email") is not supported and fails as responsive/error',
    }),
  ),
  'mime-encoding': Type.Optional(Type.String({ description: '"latin1": every character of mime is one byte of a message that is not UTF-8' })),
  key: Type.Optional(NonEmpty('message-store key used instead of mime')),
  keepmime: Type.Optional(Type.Boolean({ description: 'keep mime in result documents (default: removed)' })),
  data: Type.Optional(Open({}, { description: 'personalisation variables (not supported: carried only)' })),
  ips: Type.Optional(Type.Array(Type.String(), { description: 'permitted source IPs; empty or none local fails the message; not an array: ignored (removed)' })),
  pool: Type.Optional(Type.String({ description: 'IP pool name; ignored when ips is present' })),
  nextattempt: Type.Optional(NextAttemptSchema),
  maxdelivertime: Type.Optional(Time('give up after this time')),
  maxattempts: Type.Optional(Int(0, undefined, 'give up after this many attempts')),
  retries: Type.Optional(Type.Array(Int(0), { description: 'seconds before attempt 2, 3, …; the last entry repeats' })),
  force: Type.Optional(Type.Boolean()),
  inlinecss: Type.Optional(Type.Boolean({ description: 'not supported: carried only' })),
  dkim: Type.Optional(OneOrMany(DkimKeySchema, 'DKIM (or ARC) keys to sign with')),
  dsn: Type.Optional(DsnSchema),
  queues: Type.Optional(QueuesSchema),
  smarthost: Type.Optional(SmarthostSchema),
  tags: Type.Optional(Type.Array(Type.String(), { description: 'free labels used by pauses, forced errors, throttles and statistics' })),
  headers: Type.Optional(HeaderEditsSchema),
  priority: Type.Optional(Int(0, 255, 'AMQP priority of what delivery publishes; matters with rabbitmq-maxpriority')),
  security: Type.Optional(
    OneOf(['optional', 'opportunistic', 'required', 'verified'] as const, 'optional: no STARTTLS; opportunistic; required: TLS or fail; verified: TLS with a certificate valid for the domain'),
  ),
  // Entries written by a delivery (ours or MailerQ's, whose state list may grow) are carried, not
  // judged: only a result document holds them to the entry schema.
  results: Type.Optional(Type.Array(Open({}), { description: 'one entry per attempt, appended by delivery and carried across retries' })),
};

export const MessagePropertiesSchema = Open(messageProperties);

/** Only `recipient` and one of `mime` / `key` are required (§4). */
export const OutgoingSchema = Open(
  { ...messageProperties, recipient: Address(1, 'RCPT TO address') },
  {
    title: 'mtaq outgoing message',
    description: 'What delivery consumes from the outbox (MailerQ §4). Unknown properties are kept in every copy and result.',
    allOf: [{ anyOf: [{ required: ['mime'] }, { required: ['key'] }] }],
  },
);
