import { MtaqError } from '@mtaq/errors';

export type SmtpCallbackError = Error & { responseCode: number };

/**
 * The error shape smtp-server's callbacks take: `responseCode` plus a message that starts with the
 * enhanced status, which MtaqConnection.send keeps instead of adding its own. Anything that is not
 * one of our typed errors is a local fault: 451 4.3.0, and the client retries.
 */
export function smtpError(err: unknown): SmtpCallbackError {
  if (err instanceof MtaqError) return Object.assign(new Error(err.reply), { responseCode: err.responseCode });
  return Object.assign(new Error('4.3.0 local error in processing'), { responseCode: 451 });
}
