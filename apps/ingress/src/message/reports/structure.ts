import { readHeaderFields, type HeaderField } from '@mtaq/envelope';

/**
 * The cheap walk over the raw message: its MIME structure is read from the header fields of the top
 * level and of up to 32 parts (two levels deep), nothing is decoded, to tell whether the message may
 * be a report at all.
 */

/** MIME parts looked at (all levels together). */
const MAX_PARTS = 32;

export type ReportKind = 'dsn' | 'mdn' | 'arf' | 'tlsrpt';

/** multipart/report report-type → the kind of report and the parts that carry the machine-readable report. */
export const REPORT_TYPES: Record<string, { type: ReportKind; parts: string[] }> = {
  'delivery-status': { type: 'dsn', parts: ['message/delivery-status', 'message/global-delivery-status'] },
  'disposition-notification': { type: 'mdn', parts: ['message/disposition-notification', 'message/global-disposition-notification'] },
  'feedback-report': { type: 'arf', parts: ['message/feedback-report'] },
  tlsrpt: { type: 'tlsrpt', parts: ['application/tlsrpt+gzip', 'application/tlsrpt+json'] },
};

export const TLSRPT_TYPE = /^application\/tlsrpt\+(gzip|json)$/;
/** Content types a DMARC aggregate report travels as. */
export const DMARC_TYPE = /^(application\/(x-)?(gzip|zip|x-zip-compressed|x-gzip-compressed|xml)|text\/xml)$/;
/** File names a DMARC aggregate (or TLS) report travels as, whatever the content type says. */
export const REPORT_FILE = /\.(zip|gz|gzip|xml|json)$/i;

export interface Candidates {
  /** report-type of a multipart/report at the top or one level inside a multipart/mixed. */
  reportType?: string;
  /** Some part looks like a compressed or XML attachment (DMARC) or a TLS report. */
  attachment: boolean;
}

interface ContentType {
  value: string;
  params: Record<string, string>;
}

/** What in the message may make it a report; undefined when nothing does. */
export function precheck(message: Buffer): Candidates | undefined {
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

const isBlank = (byte: number | undefined) => byte === 0x20 || byte === 0x09;

/**
 * Where the line after a delimiter's `--boundary` at `pos` ends: the index past
 * its LF, or the end of the part; -1 when more than blanks follow (`--abc` in `--abcd`: not ours).
 */
function lineEnd(part: Buffer, pos: number): number {
  while (isBlank(part[pos])) pos++;
  if (pos >= part.length) return part.length;
  if (part[pos] === 0x0d) pos++;
  if (pos >= part.length) return part.length;
  return part[pos] === 0x0a ? pos + 1 : -1;
}

/**
 * The parts of a multipart body (headers and content), found by their delimiter lines: a line that
 * that is `--boundary`, then optional blanks, then the end of the line; `--boundary--` closes.
 */
export function* multipartBodies(part: Buffer, boundary: string): Generator<Buffer> {
  const delimiter = Buffer.from('--' + boundary, 'latin1');
  let start = -1;
  let pos = 0;
  while (pos < part.length) {
    const at = part.indexOf(delimiter, pos);
    if (at === -1) return;
    pos = at + delimiter.length;
    // a delimiter starts a line
    if (at > 0 && part[at - 1] !== 0x0a) continue;
    // the closing delimiter ends the multipart (whatever follows it on its line)
    const close = part[pos] === 0x2d && part[pos + 1] === 0x2d;
    const end = close ? part.length : lineEnd(part, pos);
    // `--boundary` followed by more than blanks: a longer boundary, or text
    if (end === -1) continue;
    if (start !== -1) yield part.subarray(start, at);
    if (end >= part.length) return;
    start = end;
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
