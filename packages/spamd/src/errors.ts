/**
 * Why a spamd check gave no verdict. The caller decides what a failed check means for the mail
 * (accept unchecked, or answer 4xx), and that choice depends on the kind: spamd down is not the
 * same as spamd too slow, and neither is the same as our own caller giving up.
 */

export type SpamdErrorKind =
  /** no connection could be made, or it broke (reset) before a whole reply came */
  | 'connect'
  /** connect + send + reply took longer than the check's timeoutMs */
  | 'timeout'
  /** the peer answered something that is not a usable spamd reply, or spamd answered a non-zero result */
  | 'protocol'
  /** the caller's AbortSignal fired first */
  | 'aborted';

export class SpamdError extends Error {
  readonly kind: SpamdErrorKind;
  /**
   * spamd's own result code when it answered one other than 0 (sysexits: 76 EX_PROTOCOL for a
   * request it refused, 69 EX_UNAVAILABLE, 79 EX_TIMEOUT when it waited too long for our body).
   */
  readonly resultCode?: number;

  constructor(kind: SpamdErrorKind, message: string, options?: { cause?: unknown; resultCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    if (options?.resultCode !== undefined) this.resultCode = options.resultCode;
  }
}
