/**
 * What the ingress reports to `/metrics` (@mtaq/www's Metrics implements it). Optional everywhere:
 * without it nothing is counted.
 */
export interface IngressMetrics {
  /** One message came in (`path`: smtp, spool, http, cli). */
  received(path: 'smtp' | 'spool' | 'http' | 'cli'): void;
  /** `documents` copies of one message were confirmed by the broker after `seconds`. */
  published(documents: number, seconds: number): void;
  /** A command or message was refused with this reply code. */
  refused(code: number): void;
}
