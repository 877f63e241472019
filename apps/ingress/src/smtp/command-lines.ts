import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

export const CR = 0x0d;
export const LF = 0x0a;

/**
 * Longest command line, CRLF included: 512 octets (RFC 5321 §4.5.3.1.4), plus what the
 * extensions we offer let a client append — MAIL: SIZE +26 (RFC 1870), RET/ENVID +100 (RFC 3461),
 * AUTH= +500 (RFC 4954), SMTPUTF8 +10 (RFC 6531), BODY=8BITMIME +14; RCPT: NOTIFY/ORCPT +500
 * (RFC 3461). AUTH lines and SASL responses may be 12288 (RFC 4954 §4).
 */
const LINE_LIMIT = 512;
const MAIL_LINE_LIMIT = LINE_LIMIT + 26 + 100 + 500 + 10 + 14;
const RCPT_LINE_LIMIT = LINE_LIMIT + 500;
const AUTH_LINE_LIMIT = 12288;

export function lineLimit(line: Buffer, saslResponse: boolean): number {
  if (saslResponse) return AUTH_LINE_LIMIT;
  switch (line.toString('latin1', 0, 5).toUpperCase()) {
    case 'MAIL ':
      return MAIL_LINE_LIMIT;
    case 'RCPT ':
      return RCPT_LINE_LIMIT;
    case 'AUTH ':
      return AUTH_LINE_LIMIT;
    default:
      return LINE_LIMIT;
  }
}

/**
 * smtp-server's command parser, unchanged except that it remembers how each command line ended.
 *
 * SMTP smuggling (SEC Consult, 2023) relies on receivers that accept something other than
 * CRLF as a line end. smtp-server's SMTPStream already ends DATA only at `<CRLF>.<CRLF>` (so
 * `\n.\n`, `\r.\r`, `\r\n.\r` and friends cannot end a message; they reach the message stream,
 * where {@link refuseBareLineEndings} refuses it), but it splits *commands* at `/\r?\n/`, so a
 * bare LF ends a command line and the terminator is gone by the time the line is handed over.
 * Instead of forking the parser we note, for every LF it is about to split at in command mode,
 * whether a CR preceded it; {@link MtaqConnection} takes one note per line and refuses lines
 * that ended in a bare LF (a bare CR stays inside the line, where it is visible anyway).
 * Notes left over when the parser switches to DATA belong to message bytes and are dropped.
 */
export class StrictSMTPStream extends SMTPStream {
  #bareLf: boolean[] = [];
  #taken = 0;
  /** When the command line or message now arriving began (0: nothing pending), and its bytes so far. */
  #unitStart = 0;
  #unitBytes = 0;

  /**
   * Whether the command line or message now arriving has taken longer than `graceMs` and came
   * slower than `bytesPerSecond` on average. Nothing pending (between commands) is never slow: an
   * idle session is the idle timeout's business.
   */
  slowerThan(bytesPerSecond: number, graceMs: number, now = Date.now()): boolean {
    // after the final dot, while the message is being queued, nothing is owed by the client
    if (!this._dataMode && this._remainder.length === 0) {
      this.#unitStart = 0;
      this.#unitBytes = 0;
      return false;
    }
    const elapsed = now - this.#unitStart;
    return this.#unitStart > 0 && elapsed > graceMs && (this.#unitBytes * 1000) / elapsed < bytesPerSecond;
  }

  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (err?: Error | null) => void): void {
    if (chunk?.length) {
      if (this.#unitStart === 0) this.#unitStart = Date.now();
      this.#unitBytes += chunk.length;
    }
    if (this._dataMode) {
      this.#bareLf = [];
      this.#taken = 0;
    } else if (chunk?.length) {
      if (this.#taken >= this.#bareLf.length) {
        this.#bareLf = [];
        this.#taken = 0;
      }
      // the base parser prepends its unterminated remainder, so a LF first in the chunk follows its last byte
      const remainder = this._remainder;
      const before = remainder.length ? remainder.charCodeAt(remainder.length - 1) : LF;
      for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
        this.#bareLf.push((i > 0 ? chunk[i - 1] : before) !== CR);
      }
    }
    super._write(chunk, encoding, (err?: Error | null) => {
      // a complete line (or message) leaves nothing behind: the next byte starts a new unit
      if (!this._dataMode && this._remainder.length === 0) {
        this.#unitStart = 0;
        this.#unitBytes = 0;
      }
      next(err);
    });
  }

  /** How the line being handed over now ended: true for a bare LF (false for the unterminated last line at EOF). */
  takeBareLf(): boolean {
    return this.#taken < this.#bareLf.length ? this.#bareLf[this.#taken++]! : false;
  }
}
