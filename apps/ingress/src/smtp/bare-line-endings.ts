import { PassThrough } from 'node:stream';
import type { SMTPServerDataResult, SMTPServerDataStream } from 'smtp-server';
import { callbackError } from './callbacks.js';
import { CR, LF } from './command-lines.js';
import { replies } from './replies.js';

export type DataCallback = (err?: Error | null, message?: string | SMTPServerDataResult[]) => void;

/**
 * Scans message bytes for a CR not followed by LF or a LF not preceded by CR. The message as
 * smtp-server hands it over always ends in CRLF (the one before the final dot), so a pending CR
 * at the end can only mean the stream was cut.
 */
class LineEndingCheck {
  violation: 'bare LF' | 'bare CR' | undefined;
  #last = LF; // the DATA command's CRLF came before the first byte
  #pendingCr = false;

  scan(chunk: Buffer): void {
    if (this.violation || chunk.length === 0) return;
    if (this.#pendingCr && chunk[0] !== LF) {
      this.violation = 'bare CR';
      return;
    }
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if ((i > 0 ? chunk[i - 1] : this.#last) !== CR) {
        this.violation = 'bare LF';
        return;
      }
    }
    for (let i = chunk.indexOf(CR); i >= 0; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 < chunk.length && chunk[i + 1] !== LF) {
        this.violation = 'bare CR';
        return;
      }
    }
    this.#last = chunk[chunk.length - 1]!;
    this.#pendingCr = this.#last === CR;
  }
}

/**
 * The stream the application reads: smtp-server keeps the size facts (`byteLength`,
 * `sizeExceeded`) on its own stream, so they are read from there. Getters on the class, not
 * properties defined on each instance, which would turn every stream into a slow dictionary object.
 */
class CheckedDataStream extends PassThrough {
  readonly #raw: SMTPServerDataStream;
  constructor(raw: SMTPServerDataStream) {
    super();
    this.#raw = raw;
  }
  get byteLength(): number {
    return this.#raw.byteLength;
  }
  get sizeExceeded(): boolean {
    return this.#raw.sizeExceeded;
  }
}

/**
 * Puts a check between smtp-server's message stream and the application's onData: bytes are
 * passed on as they come (back-pressure kept), but the end of the message is passed on only if it
 * had no bare LF or CR. A message that had one is answered `554 5.6.11` for the application,
 * which never sees its end and so never queues it. Whatever the application answers is held
 * until the whole message is in, so a refusal always wins.
 */
export function refuseBareLineEndings(raw: SMTPServerDataStream, callback: DataCallback, deliver: (stream: SMTPServerDataStream, done: DataCallback) => void): void {
  const check = new LineEndingCheck();
  const forApp = new CheckedDataStream(raw) as unknown as SMTPServerDataStream;
  let ended = false;
  let answered = false;
  let verdict: Parameters<DataCallback> | undefined;
  const answer = (): void => {
    if (answered || !ended) return;
    if (check.violation) {
      answered = true;
      callback(callbackError(replies.bareLineEndingInMessage(check.violation)));
    } else if (verdict) {
      answered = true;
      callback(...verdict);
    }
  };
  const resume = (): void => {
    raw.resume();
  };
  forApp.on('drain', resume);
  forApp.on('close', resume);
  raw.on('data', (chunk: Buffer) => {
    check.scan(chunk);
    if (check.violation) {
      if (!forApp.destroyed) forApp.destroy();
      return;
    }
    // an application that already answered (or destroyed its stream) gets nothing more: drain
    if (verdict || forApp.destroyed || forApp.writableEnded) return;
    if (!forApp.write(chunk)) raw.pause();
  });
  raw.on('end', () => {
    ended = true;
    if (!check.violation && !forApp.destroyed) forApp.end();
    answer();
  });
  raw.on('error', (err: Error) => {
    // smtp-server destroys its stream when the client leaves mid-message
    if (!forApp.destroyed) forApp.destroy(forApp.listenerCount('error') ? err : undefined);
  });
  raw.on('close', () => {
    if (!ended && !forApp.destroyed) forApp.destroy();
  });
  deliver(forApp, (err, message) => {
    if (verdict) return;
    verdict = [err, message];
    raw.resume();
    answer();
  });
}
