/**
 * Source-address failures (DNS failures are @mtaq/dns's DnsError). It names the result-entry state
 * the caller records (§6) and carries the RFC 3463 status to put in that entry.
 */

import { MtaqError } from '@mtaq/errors';

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
