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

/** Told the code of every refusal, whatever the stage (the refusal metrics). */
export type RefusalCounter = (code: number) => void;

/** The callback, with each error it is given counted first. */
function counting<A extends unknown[]>(callback: (err: SmtpCallbackError | null, ...rest: A) => void, refused: RefusalCounter | undefined) {
  return (err: SmtpCallbackError | null, ...rest: A): void => {
    if (err) refused?.(err.responseCode);
    callback(err, ...rest);
  };
}

/**
 * When a check that answered at once is answered: `after-reads` in this turn's check phase, as
 * smtp-server's own default hooks do, so the replies to the commands read in one poll phase leave
 * together after the reads instead of one write between each two reads (a bare smtp-server, 100
 * reused sessions: 2-5 % more of its CPU per message when it answers MAIL and RCPT inline);
 * `now` for onConnect, whose greeting must be out before smtp-server reads what came with the
 * connection (a PROXY peer's EHLO behind the header), or smtp-server takes the client for an
 * early talker.
 */
export type AnswerTiming = 'now' | 'after-reads';

/**
 * onConnect, onMailFrom, onRcptTo: a refusal, or undefined to go on. A check that answers at once
 * (no promise, no microtask) is answered per `timing`; one that throws is answered with its reply
 * like one that rejects.
 */
export function answer(check: () => MaybePromise<Reply | undefined>, callback: Callback, refused?: RefusalCounter, timing: AnswerTiming = 'after-reads'): void {
  const reply = counting(callback, refused);
  const settle = (err: SmtpCallbackError | null): void => {
    if (timing === 'now') reply(err);
    else setImmediate(reply, err);
  };
  let outcome: MaybePromise<Reply | undefined>;
  try {
    outcome = check();
  } catch (err) {
    settle(smtpError(err));
    return;
  }
  if (outcome instanceof Promise) {
    outcome.then(
      (refusal) => reply(refusal ? callbackError(refusal) : null),
      (err: unknown) => reply(smtpError(err)),
    );
  } else settle(outcome ? callbackError(outcome) : null);
}

/** onAuth: the user who logged in, or the refusal. */
export function answerAuth(check: Promise<{ user: string } | { refusal: Reply }>, callback: AuthCallback, refused?: RefusalCounter): void {
  const reply = counting(callback, refused);
  check.then(
    (decision) => ('refusal' in decision ? reply(callbackError(decision.refusal)) : reply(null, { user: decision.user })),
    (err: unknown) => reply(smtpError(err)),
  );
}

/** onData: the reply to the message (250 with its queue ids), or the error that refused it. */
export function answerData(outcome: Promise<Reply>, callback: DataCallback, refused?: RefusalCounter): void {
  const reply = counting(callback, refused);
  outcome.then(
    (accepted) => reply(null, replyText(accepted)),
    (err: unknown) => reply(smtpError(err)),
  );
}
