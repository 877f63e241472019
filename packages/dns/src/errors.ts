/**
 * DNS failures, for every mtaq process that looks names up (delivery's routing, the ingress's
 * checks). `transient` decides retry versus final failure (§7.2).
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
