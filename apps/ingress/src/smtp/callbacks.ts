import { MtaqError, PublishError } from '@mtaq/errors';
import { replies, replyText, type Reply } from './replies.js';

export type SmtpCallbackError = Error & { responseCode: number };

/** A reply in the error shape smtp-server's callbacks take. */
export function callbackError(reply: Reply): SmtpCallbackError {
  return Object.assign(new Error(replyText(reply)), { responseCode: reply.code });
}

/**
 * The error shape smtp-server's callbacks take: `responseCode` plus a message that starts with the
 * enhanced status, which MtaqConnection.send keeps instead of adding its own. Anything that is not
 * one of our typed errors is a local fault: 451 4.3.0, and the client retries.
 */
export function smtpError(err: unknown): SmtpCallbackError {
  if (err instanceof PublishError) return callbackError(replies.notQueued(err.message));
  if (err instanceof MtaqError) return Object.assign(new Error(err.reply), { responseCode: err.responseCode });
  return callbackError(replies.localError);
}
