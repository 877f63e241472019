import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { readHeaderFields, type HeaderField } from '@mtaq/envelope';
import { Unzip, UnzipInflate, unzipSync } from 'fflate';
import { simpleParser, type Attachment, type SimpleParserOptions } from 'mailparser';

/**
 * What kind of report a message is, with a small summary of it. Strings are trimmed, whitespace
 * collapsed and cut at 256 characters; a field that the report does not have is left out.
 *
 * - `dsn`: a delivery status notification (RFC 3464 `message/delivery-status`, RFC 6533
 *   `message/global-delivery-status`). `recipients` holds one entry per recipient block (at most
 *   100): `recipient` from Final-Recipient (else Original-Recipient) without its address type
 *   (`rfc822;`), `action` lower-cased (`failed`, `delayed`, `delivered`, `relayed`, `expanded`),
 *   `status` the enhanced code (`5.1.1`). Empty when the machine-readable part is missing.
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
  /** Most bytes a compressed attachment may expand to; past it the message is no report. Default 10 MB. */
  readonly maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
/** MIME parts looked at before the message is parsed (all levels together). */
const MAX_PARTS = 32;
/** Attachments decompressed and looked into. */
const MAX_ATTACHMENTS = 8;
const MAX_RECIPIENTS = 100;
const MAX_STRING = 256;
/** Compressed bytes pushed into the zip inflater at a time: one push expands to at most ~1032 times this. */
const ZIP_STEP = 4096;

/** multipart/report report-type → the part that carries the machine-readable report. */
const REPORT_TYPES: Record<string, { type: 'dsn' | 'mdn' | 'arf' | 'tlsrpt'; parts: string[] }> = {
  'delivery-status': { type: 'dsn', parts: ['message/delivery-status', 'message/global-delivery-status'] },
  'disposition-notification': { type: 'mdn', parts: ['message/disposition-notification', 'message/global-disposition-notification'] },
  'feedback-report': { type: 'arf', parts: ['message/feedback-report'] },
  tlsrpt: { type: 'tlsrpt', parts: ['application/tlsrpt+gzip', 'application/tlsrpt+json'] },
};

const TLSRPT_TYPE = /^application\/tlsrpt\+(gzip|json)$/;
/** Content types a DMARC aggregate report travels as. */
const DMARC_TYPE = /^(application\/(x-)?(gzip|zip|x-zip-compressed|x-gzip-compressed|xml)|text\/xml)$/;
/** File names a DMARC aggregate (or TLS) report travels as, whatever the content type says. */
const REPORT_FILE = /\.(zip|gz|gzip|xml|json)$/i;

interface Candidates {
  /** report-type of a multipart/report at the top or one level inside a multipart/mixed. */
  reportType?: string;
  /** Some part looks like a compressed or XML attachment (DMARC) or a TLS report. */
  attachment: boolean;
}

/**
 * Whether a message is a report (DSN, MDN, ARF, DMARC aggregate, TLS report), and a summary of it;
 * undefined for any other message and for anything that cannot be read. Never throws.
 *
 * The MIME structure is walked over the raw bytes first (headers of the top level and of up to 32
 * parts, two levels deep); only a message that has a multipart/report or an attachment that may be
 * a report is parsed (with mailparser), so ordinary mail costs a header scan. Compressed
 * attachments are expanded to at most `maxBytes`; a larger one (a zip bomb) makes no report.
 */
export async function detectReport(message: Buffer, options: DetectReportOptions = {}): Promise<ReportSummary | undefined> {
  try {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const candidates = precheck(message);
    if (!candidates) return undefined;
    return await summarize(message, candidates, maxBytes);
  } catch {
    return undefined;
  }
}

// ---- the cheap walk over the raw message ----

interface ContentType {
  value: string;
  params: Record<string, string>;
}

function precheck(message: Buffer): Candidates | undefined {
  const found: Candidates = { attachment: false };
  const budget = { parts: MAX_PARTS };
  visit(message, readHeaderFields(message), 0, '', found, budget);
  return found.reportType !== undefined || found.attachment ? found : undefined;
}

function visit(part: Buffer, fields: HeaderField[], depth: number, parent: string, found: Candidates, budget: { parts: number }): void {
  const contentType = parseContentType(field(fields, 'content-type'));
  const type = contentType.value;
  // a multipart/report counts at the top and inside a multipart/mixed (as some forwarders send it)
  const reportPlace = depth === 0 || (depth === 1 && parent === 'multipart/mixed');
  if (type === 'multipart/report' && reportPlace && found.reportType === undefined) {
    const reportType = contentType.params['report-type']?.toLowerCase();
    if (reportType && reportType in REPORT_TYPES) found.reportType = reportType;
  }
  if (TLSRPT_TYPE.test(type) || DMARC_TYPE.test(type) || REPORT_FILE.test(fileName(contentType, field(fields, 'content-disposition')))) {
    found.attachment = true;
  }
  if (!type.startsWith('multipart/') || depth >= 2) return;
  const boundary = contentType.params['boundary'];
  if (!boundary) return;
  for (const body of multipartBodies(part, boundary)) {
    if (budget.parts-- <= 0) return;
    visit(body, readHeaderFields(body), depth + 1, type, found, budget);
  }
}

/** The parts of a multipart body (headers and content), found by their delimiter lines. */
function* multipartBodies(part: Buffer, boundary: string): Generator<Buffer> {
  const delimiter = Buffer.from('--' + boundary, 'latin1');
  let start = -1;
  let pos = 0;
  while (pos < part.length) {
    const at = part.indexOf(delimiter, pos);
    if (at === -1) return;
    pos = at + delimiter.length;
    // a delimiter starts a line
    if (at > 0 && part[at - 1] !== 0x0a) continue;
    if (start !== -1) yield part.subarray(start, at);
    // the closing delimiter ends the multipart
    if (part[pos] === 0x2d && part[pos + 1] === 0x2d) return;
    const eol = part.indexOf(0x0a, pos);
    if (eol === -1) return;
    start = eol + 1;
  }
}

function field(fields: HeaderField[], name: string): string {
  return fields.find((f) => f.name === name)?.value ?? '';
}

/** `type/subtype; name=value; name="quoted"`, type lower-cased, parameter names lower-cased. */
function parseContentType(value: string): ContentType {
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).replace(/\(.*?\)/g, '').trim().toLowerCase();
  const params: Record<string, string> = {};
  if (semi !== -1) {
    const rest = value.slice(semi);
    const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
    for (let m = re.exec(rest); m; m = re.exec(rest)) {
      const name = m[1]!.toLowerCase();
      if (!(name in params)) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    }
  }
  return { value: type, params };
}

/** The attachment's file name, roughly (RFC 2231 pieces joined, not decoded): enough for its extension. */
function fileName(contentType: ContentType, disposition: string): string {
  const pieces = (params: Record<string, string>) =>
    Object.keys(params)
      .filter((k) => /^(file)?name(\*\d*)?\*?$/.test(k))
      .sort()
      .map((k) => params[k])
      .join('');
  const fromDisposition = pieces(parseContentType(disposition).params);
  return (fromDisposition || pieces(contentType.params)).trim();
}

// ---- the parsed message ----

const PARSER_OPTIONS = {
  keepDeliveryStatus: true,
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  checksumAlgo: false,
} as unknown as SimpleParserOptions;

async function summarize(message: Buffer, candidates: Candidates, maxBytes: number): Promise<ReportSummary | undefined> {
  const parsed = await simpleParser(message, PARSER_OPTIONS);
  const attachments = parsed.attachments;
  if (candidates.reportType !== undefined) {
    const { type, parts } = REPORT_TYPES[candidates.reportType]!;
    const machine = attachments.find((a) => parts.includes(a.contentType.toLowerCase()));
    if (type === 'tlsrpt') {
      const summary = machine && tlsrptSummary(expand(machine.content, maxBytes));
      if (summary) return summary;
    } else {
      const text = machine ? machine.content.toString('utf8') : '';
      if (type === 'dsn') return { type, recipients: dsnRecipients(text) };
      const fields = statusFields(text)[0] ?? new Map<string, string>();
      if (type === 'mdn') return compact({ type, disposition: fields.get('disposition'), 'original-message-id': fields.get('original-message-id') });
      return compact({ type, 'feedback-type': fields.get('feedback-type')?.toLowerCase(), 'source-ip': fields.get('source-ip') });
    }
  }
  let looked = 0;
  for (const attachment of attachments) {
    if (!isReportAttachment(attachment)) continue;
    if (looked++ >= MAX_ATTACHMENTS) break;
    const content = expand(attachment.content, maxBytes);
    if (!content) continue;
    const summary = dmarcSummary(content) ?? tlsrptSummary(content);
    if (summary) return summary;
  }
  // a multipart/report; report-type=tlsrpt whose report could not be read is a TLS report all the same
  return candidates.reportType === 'tlsrpt' ? { type: 'tlsrpt' } : undefined;
}

function isReportAttachment(attachment: Attachment): boolean {
  const type = attachment.contentType.toLowerCase();
  return TLSRPT_TYPE.test(type) || DMARC_TYPE.test(type) || REPORT_FILE.test(attachment.filename ?? '');
}

/** The content, gunzipped or unzipped (its first .xml file) by its magic bytes, at most `maxBytes`. */
function expand(content: Buffer, maxBytes: number): Buffer | undefined {
  try {
    if (content[0] === 0x1f && content[1] === 0x8b) {
      // the first KB or so tells XML or JSON from anything else without expanding the rest
      const head = gunzipSync(content.subarray(0, 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: maxBytes });
      if (!MARKUP_START.test(head.toString('latin1', 0, 64))) return undefined;
      return gunzipSync(content, { maxOutputLength: maxBytes });
    }
    if (content[0] === 0x50 && content[1] === 0x4b && content[2] === 0x03 && content[3] === 0x04) return unzipXml(content, maxBytes);
    return content.length <= maxBytes ? content : undefined;
  } catch {
    // corrupt, or more than maxBytes (zlib's RangeError)
    return undefined;
  }
}

/** An XML document or a JSON object, after a byte order mark and blanks. */
const MARKUP_START = /^(\xEF\xBB\xBF)?\s*[<{]/;
const XML_FILE = /\.xml$/i;

/**
 * The first .xml file of a zip archive. The central directory is read first (nothing expanded): no
 * .xml file, or one that says it is larger than `maxBytes`, is no report. The file is then streamed
 * through the inflater a few KB of input at a time, so that no more than about `maxBytes` (plus one
 * step's worth) is ever expanded even when the directory lies.
 */
function unzipXml(zip: Buffer, maxBytes: number): Buffer | undefined {
  let declared: number | undefined;
  unzipSync(zip, {
    filter: (file) => {
      if (declared === undefined && XML_FILE.test(file.name)) declared = file.originalSize;
      return false;
    },
  });
  if (declared === undefined || declared > maxBytes) return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  // changed by the callbacks, which TypeScript's narrowing does not see
  let state = 'waiting' as 'waiting' | 'reading' | 'done' | 'failed';
  const unzip = new Unzip((file) => {
    if (state !== 'waiting' || !XML_FILE.test(file.name)) return;
    state = 'reading';
    file.ondata = (err, chunk, final) => {
      if (state !== 'reading') return;
      if (err) {
        state = 'failed';
        return;
      }
      total += chunk.length;
      if (total > maxBytes) {
        state = 'failed';
        file.terminate();
        return;
      }
      chunks.push(chunk);
      if (final) state = 'done';
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  for (let at = 0; at < zip.length && (state === 'waiting' || state === 'reading'); at += ZIP_STEP) {
    unzip.push(zip.subarray(at, at + ZIP_STEP), at + ZIP_STEP >= zip.length);
  }
  return state === 'done' ? Buffer.concat(chunks) : undefined;
}

// ---- the machine-readable parts ----

/**
 * RFC 3464 / 8098 / 5965 field blocks: groups of `Name: value` lines separated by empty lines,
 * continuation lines unfolded, names lower-cased, values without comments and whitespace collapsed.
 */
function statusFields(text: string): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!fields.has(name)) fields.set(name, clip(line.slice(colon + 1)));
    }
    if (fields.size) blocks.push(fields);
  }
  return blocks;
}

function dsnRecipients(text: string): DsnRecipient[] {
  const recipients: DsnRecipient[] = [];
  for (const fields of statusFields(text)) {
    const address = fields.get('final-recipient') ?? fields.get('original-recipient');
    if (address === undefined) continue;
    const status = fields.get('status');
    recipients.push(
      compact({
        // `rfc822; bob@example.com`, `utf-8; bob@example.com`
        recipient: address.replace(/^[\w-]+\s*;\s*/, ''),
        action: fields.get('action')?.replace(/\s*\(.*$/, '').toLowerCase(),
        status: status === undefined ? undefined : (/\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(status)?.[0] ?? status),
      }),
    );
    if (recipients.length >= MAX_RECIPIENTS) break;
  }
  return recipients;
}

/** An XML document whose root is `<feedback>` (any namespace prefix). */
const FEEDBACK_ROOT = /^\uFEFF?\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>)\s*)*<(?:[\w.-]+:)?feedback[\s>/]/;

function dmarcSummary(content: Buffer): DmarcSummary | undefined {
  const xml = content.toString('utf8');
  if (!FEEDBACK_ROOT.test(xml.slice(0, 4096))) return undefined;
  const metadata = element(xml, 'report_metadata') ?? '';
  const dateRange = element(metadata, 'date_range') ?? '';
  const policy = element(xml, 'policy_published') ?? '';
  const epoch = (tag: string) => {
    const text = elementText(dateRange, tag);
    return text !== undefined && /^\d{1,12}$/.test(text) ? Number(text) : undefined;
  };
  return compact({
    type: 'dmarc' as const,
    'org-name': elementText(metadata, 'org_name'),
    'report-id': elementText(metadata, 'report_id'),
    domain: elementText(policy, 'domain'),
    begin: epoch('begin'),
    end: epoch('end'),
  });
}

/** The inside of the first `<name>…</name>` (any namespace prefix). */
function element(xml: string, name: string): string | undefined {
  const open = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>`).exec(xml);
  if (!open) return undefined;
  const from = open.index + open[0].length;
  const close = new RegExp(`</(?:[\\w.-]+:)?${name}\\s*>`).exec(xml.slice(from));
  return close ? xml.slice(from, from + close.index) : undefined;
}

function elementText(xml: string, name: string): string | undefined {
  const inner = element(xml, name);
  if (inner === undefined) return undefined;
  const text = inner
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, data: string) => data.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;')))
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
      const lower = e.toLowerCase();
      if (lower.startsWith('#x')) return safeCodePoint(parseInt(lower.slice(2), 16));
      if (lower.startsWith('#')) return safeCodePoint(parseInt(lower.slice(1), 10));
      return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[lower] ?? '';
    });
  const value = clip(text);
  return value === '' ? undefined : value;
}

function safeCodePoint(n: number): string {
  return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}

function tlsrptSummary(content: Buffer | undefined): TlsrptSummary | undefined {
  if (!content) return undefined;
  const text = content.toString('utf8').trim();
  if (!text.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const report = json as Record<string, unknown>;
  if (!('organization-name' in report) && !('report-id' in report) && !Array.isArray(report['policies'])) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? clip(v) : undefined);
  return compact({ type: 'tlsrpt' as const, 'organization-name': str(report['organization-name']), 'report-id': str(report['report-id']) });
}

function clip(value: string): string {
  return value.replace(/\s+/g, ' ').trim().slice(0, MAX_STRING);
}

/** The object without its undefined properties (they would vanish in JSON anyway; this keeps tests exact). */
function compact<T extends object>(object: T): T {
  for (const key of Object.keys(object) as Array<keyof T>) if (object[key] === undefined) delete object[key];
  return object;
}
