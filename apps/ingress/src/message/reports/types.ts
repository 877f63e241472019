/**
 * What kind of report a message is, with a small summary of it. Strings are trimmed, whitespace
 * collapsed and cut at 256 characters; a field that the report does not have is left out.
 *
 * - `dsn`: a delivery status notification (RFC 3464 `message/delivery-status`, RFC 6533
 *   `message/global-delivery-status`). `recipients` holds one entry per recipient block (at most
 *   100): `recipient` from Final-Recipient (else Original-Recipient) without its address type
 *   (`rfc822;`), `action` lower-cased (`failed`, `delayed`, `delivered`, `relayed`, `expanded`),
 *   `status` the enhanced code (`5.1.1`). Empty when the machine-readable part is missing, or when
 *   the message is too large to be parsed.
 * - `mdn`: a message disposition notification (RFC 8098): `disposition` is the Disposition field
 *   as written (`manual-action/MDN-sent-manually; displayed`), `original-message-id` the
 *   Original-Message-ID field.
 * - `arf`: an abuse/feedback report (RFC 5965, also DMARC failure reports): `feedback-type`
 *   lower-cased (`abuse`, `auth-failure`, …) and `source-ip`.
 * - `dmarc`: a DMARC aggregate report (RFC 7489 appendix C), an XML `<feedback>` document as a
 *   gzip, zip or plain XML attachment: `org-name` and `report-id` from report_metadata, `domain`
 *   from policy_published, `begin` and `end` from date_range (seconds since the epoch).
 * - `tlsrpt`: an SMTP TLS report (RFC 8460, `application/tlsrpt+gzip` or `+json`):
 *   `organization-name` and `report-id`.
 */
export type ReportSummary = DsnSummary | MdnSummary | ArfSummary | DmarcSummary | TlsrptSummary;

export interface DsnRecipient {
  recipient: string;
  action?: string;
  status?: string;
}
export interface DsnSummary {
  type: 'dsn';
  recipients: DsnRecipient[];
}
export interface MdnSummary {
  type: 'mdn';
  disposition?: string;
  'original-message-id'?: string;
}
export interface ArfSummary {
  type: 'arf';
  'feedback-type'?: string;
  'source-ip'?: string;
}
export interface DmarcSummary {
  type: 'dmarc';
  'org-name'?: string;
  'report-id'?: string;
  domain?: string;
  begin?: number;
  end?: number;
}
export interface TlsrptSummary {
  type: 'tlsrpt';
  'organization-name'?: string;
  'report-id'?: string;
}

export interface DetectReportOptions {
  /**
   * Most bytes all the attachments of one message together may expand to (compressed ones after
   * decompression, plain ones as they are); past it the rest is no report. Default 10 MB.
   */
  readonly maxBytes?: number;
  /**
   * Largest message that is parsed (with mailparser). A larger multipart/report is still classified
   * by its report-type, without the summary fields (a DSN has no recipients); a larger message with
   * only a DMARC or TLS attachment is no report. Default 4 MB.
   */
  readonly maxParseBytes?: number;
  /** Milliseconds after which the message is taken to be no report. Default 2000. */
  readonly timeoutMs?: number;
}

/** Strings in a summary are cut at this many characters. */
export const MAX_STRING = 256;

export function clip(value: string): string {
  return value.replace(/\s+/g, ' ').trim().slice(0, MAX_STRING);
}

/** The object without its undefined properties (they would vanish in JSON anyway; this keeps tests exact). */
export function compact<T extends object>(object: T): T {
  for (const key of Object.keys(object) as Array<keyof T>) if (object[key] === undefined) delete object[key];
  return object;
}
