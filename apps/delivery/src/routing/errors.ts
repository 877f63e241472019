/**
 * Routing failures. Each one names the result-entry state the caller records (§6) and carries the
 * reply code / RFC 3463 status to put in that entry, because no remote server supplied one.
 */

import { MtaqError } from '@mtaq/errors';

/**
 * A lookup that found no usable destination. `transient` decides retry versus final failure
 * (§7.2): the server did not answer properly, versus the domain provably has nowhere to send to.
 */
export class DnsError extends MtaqError {
  readonly state = 'dns' as const;
  readonly transient: boolean;
  /** The name being looked up (recipient domain, MX host, smarthost or sink name). */
  readonly domain: string;
  /** c-ares code such as `ENOTFOUND` or `ETIMEOUT`, when the failure came from the resolver. */
  readonly code: string | undefined;

  constructor(
    message: string,
    init: { domain: string; transient: boolean; code?: string; responseCode?: number; status?: string; cause?: unknown },
  ) {
    // 4.4.3 = "directory server failure"; 5.1.2 = "bad destination system address" (§7.2 [design]).
    super(
      message,
      init.responseCode ?? (init.transient ? 451 : 550),
      init.status ?? (init.transient ? '4.4.3' : '5.1.2'),
      { cause: init.cause },
    );
    this.transient = init.transient;
    this.domain = init.domain;
    this.code = init.code;
  }
}

/**
 * No source address may be used: empty `ips`, only non-local candidates, an unknown or empty pool.
 * Always final and no connection is attempted (§7.2, C46).
 */
export class BindError extends MtaqError {
  readonly state = 'bind' as const;
  readonly transient = false as const;
  /** What was asked for, so the log shows which addresses were refused. */
  readonly candidates: readonly string[];

  constructor(message: string, candidates: readonly string[] = []) {
    super(message, 554, '5.4.0');
    this.candidates = candidates;
  }
}
