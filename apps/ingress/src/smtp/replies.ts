import { SmtpReplyError } from '@mtaq/errors';

/** One SMTP reply: code, RFC 3463 enhanced status and text (lines of a multi-line reply joined by `\n`). */
export interface Reply {
  readonly code: number;
  readonly status: string;
  readonly text: string;
}

function reply(code: number, status: string, text: string): Reply {
  return Object.freeze({ code, status, text });
}

/**
 * Every reply the ingress's own code sends, in one place (the greeting, EHLO and the replies
 * smtp-server composes for the commands it handles itself are its own). Policy checks answer with
 * one of these; where a reply travels as an error it is an {@link SmtpReplyError} made by
 * {@link replyError}. Texts are part of the interface: clients, tests and the README quote them.
 */
export const replies = {
  // connect (policy/)
  blocklisted: (ip: string) => reply(554, '5.7.1', `${ip} is on the block-list`),
  connectNotAllowed: (ip: string) => reply(554, '5.7.1', `${ip} is not allowed to connect`),
  tooManyConnectionsPerMinute: (ip: string) => reply(421, '4.7.0', `too many connections from ${ip} per minute, try again later`),
  tooManyConcurrentConnections: (ip: string) => reply(421, '4.7.0', `too many concurrent connections from ${ip}`),
  tooManyClients: reply(421, '4.7.0', 'Too many connected clients, try again in a moment'),
  outOfDescriptors: reply(421, '4.3.2', 'Too many open connections on this server, try again later'),

  // TLS and AUTH
  startTlsFirst: reply(530, '5.7.0', 'Must issue a STARTTLS command first'),
  loginThrottled: reply(454, '4.7.0', 'Too many failed logins, try again later'),
  authUnavailable: reply(454, '4.7.0', 'Temporary authentication failure'),
  authInvalid: reply(535, '5.7.8', 'Authentication credentials invalid'),

  // MAIL FROM / RCPT TO
  invalidMailbox: (role: 'sender' | 'recipient', address: string) => reply(553, '5.1.3', `${role} address <${address}> is not a valid mailbox`),
  senderNotAllowed: (address: string) => reply(550, '5.7.1', `sender <${address}> is not allowed here`),
  recipientRefused: (address: string) => reply(550, '5.7.1', `recipient <${address}> is refused`),
  authenticationRequired: reply(530, '5.7.0', 'Authentication required'),
  relayingDenied: (address: string) => reply(554, '5.7.1', `relaying to <${address}> denied`),
  /** MAIL FROM while the broker is not connected or blocks publishing (message/transactions.ts). */
  brokerUnavailable: reply(451, '4.3.0', 'message broker is unavailable, try again later'),
  /** MAIL FROM when `smtp-max-inflight` has no room for the declared size (message/transactions.ts). */
  insufficientStorage: reply(452, '4.3.1', 'Insufficient system storage, try again later'),
  /** RCPT TO when recipients × size would pass `smtp-max-inflight`: the rest go in another transaction. */
  tooManyRecipientsForSize: (size: number) => reply(452, '4.5.3', `too many recipients for a message of ${size} bytes, send the rest in another transaction`),

  // command lines and the session
  bareLineEndingInCommand: reply(500, '5.5.2', 'Bare LF or CR in command line (RFC 5321 section 2.3.8)'),
  lineTooLong: reply(500, '5.5.2', 'Line too long'),
  tooManyErrors: (hostname: string) => reply(421, '4.7.0', `${hostname} Error: too many errors, closing connection`),
  tooSlow: (hostname: string, bytesPerSecond: number) => reply(421, '4.4.2', `${hostname} Error: data arriving slower than ${bytesPerSecond} bytes per second, closing connection`),
  unreadableInput: (hostname: string, reason: string) => reply(421, '4.7.0', `${hostname} Error: ${reason}, closing connection`),

  // DATA (message/)
  bareLineEndingInMessage: (violation: 'bare LF' | 'bare CR') =>
    reply(554, '5.6.11', `Message refused: ${violation} in message (RFC 5321 section 2.3.8)`),
  messageTooBig: reply(552, '5.3.4', 'message exceeds fixed maximum message size'),
  /** `smtp-check-reject: dmarc`: the From domain publishes p=reject and the message failed DMARC. */
  dmarcRejected: (domain: string) => reply(550, '5.7.1', `message refused: it fails the DMARC policy (p=reject) of ${domain}`),
  /** `smtp-check-reject: spam`: spamd scored it at or above the threshold. */
  spamRejected: (score: number, threshold: number) => reply(550, '5.7.1', `message refused as spam (score ${score}, threshold ${threshold})`),
  queued: (ids: ReadonlyArray<{ id: string; recipient: string }>) =>
    reply(250, '2.6.0', ['Ok, your message has been queued using the following identifiers:', ...ids.map((m) => `${m.id} for ${m.recipient}`)].join('\n')),
  /** The broker did not confirm (nack, unroutable, lost, too slow): the client retries. */
  notQueued: (reason: string) => reply(451, '4.3.0', reason),
  /** Anything that is not one of our typed errors. */
  localError: reply(451, '4.3.0', 'local error in processing'),
} as const;

/**
 * Replies smtp-server composes itself that mtaq rewrites or promises (README, access control):
 * none is sent by our code. `apps/ingress/test/smtp/internals.test.ts` holds the library to them.
 */
export const libraryReplies = {
  /** AUTH before STARTTLS: the library's non-standard 538, which MtaqConnection answers as {@link replies.startTlsFirst}. */
  authBeforeStartTls: reply(538, '5.7.0', 'Error: Must issue a STARTTLS command first'),
  /** `smtp-max-recipients` (the `maxRecipients` option). */
  tooManyRecipients: reply(452, '4.5.3', 'Error: too many recipients'),
  /** Idle past `smtp-timeout` (the `socketTimeout` option). */
  idleTimeout: reply(421, '4.4.2', 'Timeout - closing connection'),
} as const;

/** The reply text as smtp-server's `send` takes it: the enhanced status first, which it then keeps. */
export function replyText(r: Reply): string {
  return `${r.status} ${r.text}`;
}

/** The reply as the typed error that carries it (policy refusals thrown or handed on as errors). */
export function replyError(r: Reply): SmtpReplyError {
  return new SmtpReplyError(r.text, r.code, r.status);
}
