import { MtaqError, PublishError } from '@mtaq/errors';
import type { SMTPServerAuthenticationResponse } from 'smtp-server';
import { replies, replyText, type Reply } from './replies.js';

export type SmtpCallbackError = Error & { responseCode: number };

type Callback = (err?: Error | null) => void;
type AuthCallback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;
type DataCallback = (err?: Error | null, message?: string) => void;

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

/*
 * smtp-server calls its hooks with a node-style callback; ours are promises. These await one and
 * answer the callback: a reply refuses, nothing accepts, a thrown error becomes its reply
 * (smtpError). A hook may take as long as it needs (a Redis throttle, a DNS lookup): smtp-server
 * reads no further command of that session until the callback is called.
 */

/** A check's answer: at once, or once it has asked something remote. */
export type MaybePromise<T> = T | Promise<T>;

/** `f` applied to `value` now, or once it resolves: checks that need no I/O answer without a microtask. */
export function after<T, U>(value: MaybePromise<T>, f: (resolved: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * onConnect, onMailFrom, onRcptTo: a refusal, or undefined to go on. A check that answers at once
 * is answered at once (smtp-server takes a synchronous callback); given as a function, a check
 * that throws is answered with its reply like one that rejects.
 */
export function answer(check: MaybePromise<Reply | undefined> | (() => MaybePromise<Reply | undefined>), callback: Callback): void {
  let outcome: MaybePromise<Reply | undefined>;
  try {
    outcome = typeof check === 'function' ? check() : check;
  } catch (err) {
    callback(smtpError(err));
    return;
  }
  if (outcome instanceof Promise) {
    outcome.then(
      (refusal) => callback(refusal ? callbackError(refusal) : null),
      (err: unknown) => callback(smtpError(err)),
    );
  } else callback(outcome ? callbackError(outcome) : null);
}

/** onAuth: the user who logged in, or the refusal. */
export function answerAuth(check: Promise<{ user: string } | { refusal: Reply }>, callback: AuthCallback): void {
  check.then(
    (decision) => ('refusal' in decision ? callback(callbackError(decision.refusal)) : callback(null, { user: decision.user })),
    (err: unknown) => callback(smtpError(err)),
  );
}

/** onData: the reply to the message (250 with its queue ids), or the error that refused it. */
export function answerData(outcome: Promise<Reply>, callback: DataCallback): void {
  outcome.then(
    (reply) => callback(null, replyText(reply)),
    (err: unknown) => callback(smtpError(err)),
  );
}
