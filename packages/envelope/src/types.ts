/**
 * The JSON documents that travel over the queues (reference §3, §4, §6), as TypeScript types. They
 * are derived from the schemas in ./schema, which also compile into the validators and are written
 * to schemas/*.schema.json, so type, validator and published schema cannot drift apart. Every
 * document keeps properties it does not declare: scripts and other MailerQ-compatible tools put
 * their own data there and expect it back in every republished copy and result.
 */

import type { Static } from '@sinclair/typebox';
import type {
  CheckResultSchema,
  CliInfoSchema,
  ConnectionSchema,
  HttpInfoSchema,
  IncomingSchema,
  SmtpIncomingSchema,
  SpoolInfoSchema,
} from './schema/incoming.js';
import type {
  DkimKeySchema,
  DsnSchema,
  HeaderEditsSchema,
  NextAttemptSchema,
  OutgoingSchema,
  QueuesSchema,
  SmarthostSchema,
  MessagePropertiesSchema,
} from './schema/outgoing.js';
import type {
  CertificateNameSchema,
  CertificateSchema,
  CipherSchema,
  ExtractedSchema,
  RESULT_KINDS,
  RESULT_STATES,
  ResultEntrySchema,
  ResultMessageSchema,
} from './schema/result.js';

export { RESULT_KINDS, RESULT_STATES } from './schema/result.js';

export type Dsn = Static<typeof DsnSchema>;
export type Queues = Static<typeof QueuesSchema>;
/** The declared kinds only (`keyof Queues` also has the index signature of unknown properties). */
export type QueueKind = keyof typeof QueuesSchema.properties;
export type Smarthost = Static<typeof SmarthostSchema>;
export type DkimKey = Static<typeof DkimKeySchema>;
export type HeaderEdits = Static<typeof HeaderEditsSchema>;
export type HeaderValues = NonNullable<HeaderEdits['append']>;
export type NextAttempt = Static<typeof NextAttemptSchema>;
export type Security = NonNullable<OutgoingMessage['security']>;

/** Properties every message document may carry; `recipient` is optional only here. */
export type MessageProperties = Static<typeof MessagePropertiesSchema>;
/** What the outbox consumer accepts (§4): a recipient and one of `mime` / `key`. */
export type OutgoingMessage = Static<typeof OutgoingSchema>;

export type Connection = Static<typeof ConnectionSchema>;
export type SpoolInfo = Static<typeof SpoolInfoSchema>;
export type CliInfo = Static<typeof CliInfoSchema>;
export type HttpInfo = Static<typeof HttpInfoSchema>;
export type CheckResult = Static<typeof CheckResultSchema>;
/** What ingress publishes (§3); one of `connection`, `spool`, `cli`, `http` is present. */
export type IncomingMessage = Static<typeof IncomingSchema>;
export type SmtpIncomingMessage = Static<typeof SmtpIncomingSchema>;

export type ResultState = (typeof RESULT_STATES)[number];
export type ResultKind = (typeof RESULT_KINDS)[number];
export type Cipher = Static<typeof CipherSchema>;
export type CertificateName = Static<typeof CertificateNameSchema>;
export type Certificate = Static<typeof CertificateSchema>;
/** One delivery attempt (§6). */
export type ResultEntry = Static<typeof ResultEntrySchema>;
export type Extracted = Static<typeof ExtractedSchema>;
export type AddressParts = NonNullable<Extracted['envelope']>;
/** What delivery publishes to the result queues (§6): `mime` is usually stripped. */
export type ResultMessage = Static<typeof ResultMessageSchema>;
