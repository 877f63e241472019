/**
 * The JSON documents that travel over the queues (reference §3, §4, §6). Every document keeps
 * properties we do not know about, because scripts and other MailerQ-compatible tools put their own
 * data there and expect it back in every republished copy and result.
 */

import type { Time } from './time.js';

/** `notify` is `NEVER` or a comma list of `SUCCESS`, `FAILURE`, `DELAY` (upper case after parsing). */
export interface Dsn {
  notify?: string;
  ret?: 'FULL' | 'HDRS';
  orcpt?: string;
  envid?: string;
}

/** A missing kind falls back to the configured queue; `null` means "do not publish" (I6). */
export interface Queues {
  results?: string | null;
  success?: string | null;
  failure?: string | null;
  retry?: string | null;
  dsn?: string | null;
}

export interface Smarthost {
  hostname: string;
  /** Producers may send a string; the parser turns it into a number. Default 25. */
  port?: number;
  username?: string;
  password?: string;
}

export interface DkimKey {
  domain: string;
  selector: string;
  /** PEM private key. */
  key: string;
  expire?: Time;
  /** Extra headers to sign. */
  headers?: string[];
  report?: boolean;
  protocols?: ('dkim' | 'arc')[];
  /** e.g. `relaxed/simple` (the default). */
  canonicalization?: string;
}

export type HeaderValues = Record<string, string | string[]>;

/** Applied remove → replace → update → prepend → append; `add` is an alias of `append`. */
export interface HeaderEdits {
  remove?: string | string[];
  replace?: Record<string, string>;
  update?: Record<string, string>;
  prepend?: HeaderValues;
  append?: HeaderValues;
  add?: HeaderValues;
}

export interface NextAttempt {
  time: Time;
  [key: string]: unknown;
}

export type Security = 'optional' | 'opportunistic' | 'required' | 'verified';

/**
 * Properties every message document may carry. `recipient` is optional here only because result
 * documents for unusable input (`process/invalid`) may lack it; {@link OutgoingMessage} requires it.
 */
export interface MessageProperties {
  envelope?: string;
  recipient?: string;
  /** Raw RFC 5322 text, or a "responsive email" object (out of scope for delivery). */
  mime?: string | Record<string, unknown>;
  /** Message-store key used instead of `mime`. */
  key?: string;
  keepmime?: boolean;
  data?: Record<string, unknown>;
  ips?: string[];
  pool?: string;
  nextattempt?: NextAttempt;
  maxdelivertime?: Time;
  maxattempts?: number;
  retries?: number[];
  force?: boolean;
  inlinecss?: boolean;
  dkim?: DkimKey | DkimKey[];
  dsn?: Dsn;
  queues?: Queues;
  smarthost?: Smarthost;
  tags?: string[];
  headers?: HeaderEdits;
  priority?: number;
  security?: Security;
  /** Appended by delivery and carried across retries; entries are only shape-checked by parseOutgoing. */
  results?: ResultEntry[];
  [key: string]: unknown;
}

/** What the outbox consumer accepts (§4): a recipient and one of `mime` / `key`. */
export interface OutgoingMessage extends MessageProperties {
  recipient: string;
}

export interface Connection {
  'local-ip': string;
  'local-port': number;
  'remote-ip': string;
  'remote-port': number;
  /** TLS was active when the message was received. */
  secure: boolean;
  /** Only present when the client authenticated. */
  user?: string;
}

export interface SpoolInfo {
  directory?: string;
  file?: string;
  user?: string;
  size?: number;
  [key: string]: unknown;
}

export interface CliInfo {
  command?: string;
  arguments?: string[];
  user?: string;
  [key: string]: unknown;
}

export interface HttpInfo {
  authentication?: string;
  'remote-ip'?: string;
  'remote-port'?: number;
  [key: string]: unknown;
}

/** Check verdicts such as `{"spf":"pass","smtp.mailfrom":"a@x.com"}`. */
export type CheckResult = Record<string, unknown>;

/**
 * What ingress publishes (§3). SMTP injection sets `message-id` and `connection`; spool, CLI and
 * REST injection set `spool` / `cli` / `http` instead, so all four are optional here and the parser
 * requires at least one of them. {@link SmtpIncomingMessage} is the SMTP-only narrowing.
 */
export interface IncomingMessage extends OutgoingMessage {
  'message-id'?: string;
  received: Time;
  hostname: string;
  envelope: string;
  mime?: string;
  connection?: Connection;
  checks?: CheckResult[];
  spool?: SpoolInfo;
  cli?: CliInfo;
  http?: HttpInfo;
}

export interface SmtpIncomingMessage extends IncomingMessage {
  'message-id': string;
  connection: Connection;
}

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

export type ResultState = (typeof RESULT_STATES)[number];

export const RESULT_KINDS = ['accepted', 'timeout', 'lost', 'invalid', 'error', 'idle'] as const;

export type ResultKind = (typeof RESULT_KINDS)[number];

export interface Cipher {
  name?: string;
  bits?: number;
  algbits?: number;
  version?: string;
  id?: number | string;
  [key: string]: unknown;
}

export interface CertificateName {
  common?: string;
  country?: string;
  locality?: string;
  state?: string;
  organization?: string;
  [key: string]: unknown;
}

export interface Certificate {
  notbefore?: string;
  notafter?: string;
  version?: number;
  verified?: boolean;
  result?: string;
  keyusage?: unknown;
  'self-signed'?: boolean;
  subject?: CertificateName;
  issuer?: CertificateName;
  altnames?: string[];
  [key: string]: unknown;
}

/** One delivery attempt (§6). */
export interface ResultEntry {
  state: ResultState;
  /** `accepted` only ever comes with state `message`. */
  result: ResultKind;
  time: Time;
  /** Remote name from the 220 greeting; absent without a connection. */
  mta?: string;
  /** Local source IP. */
  from?: string;
  /** Remote IP. */
  to?: string;
  code?: number;
  status?: string;
  description?: string;
  /** Success only: whether the remote advertised DSN. */
  dsn?: boolean;
  messages?: number;
  sent?: { connection: number; data: number };
  cipher?: Cipher;
  certificate?: Certificate;
  authentication?: string;
  // Set only by a response pattern; they override the usual classification.
  fatal?: boolean;
  individual?: boolean;
  strange?: boolean;
  greylisted?: boolean;
  fallback?: boolean;
  [key: string]: unknown;
}

export interface AddressParts {
  local: string;
  domain: string;
}

/** Summary of the final MIME attached to result documents. */
export interface Extracted {
  from?: string;
  to?: string[];
  subject?: string;
  headers?: Record<string, unknown>;
  envelope?: AddressParts;
  recipient?: AddressParts;
  [key: string]: unknown;
}

/** What delivery publishes to the result queues (§6): `mime` is usually stripped. */
export interface ResultMessage extends MessageProperties {
  results: ResultEntry[];
  extracted?: Extracted;
  /** Raw body of an unparsable input document (§7.1). */
  invalid?: string;
}
