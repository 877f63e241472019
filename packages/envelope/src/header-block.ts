/**
 * Byte-level walk over the header block of a raw message. It never decodes the body and never
 * rewrites line endings, so callers can cut fields out and keep every other byte identical.
 */

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/**
 * Called once per header field. `colon` is the offset of the `:` (the name is `start..colon`, maybe
 * with trailing blanks); `end` is just past the field's last line ending, continuation lines included.
 */
export type FieldVisitor = (start: number, colon: number, end: number) => void;

/**
 * Visits every field of the header block and returns where the block ends: the offset of the empty
 * line (CRLF or bare LF), or `buf.length` when there is none. Lines without a `:` after a valid
 * field name (an mbox `From ` line, garbage) are not fields and are not visited.
 */
export function scanHeaders(buf: Buffer, visit: FieldVisitor): number {
  const len = buf.length;
  let pos = 0;
  let fieldStart = -1;
  let colon = -1;
  while (pos < len) {
    const first = buf[pos];
    if (first === LF || (first === CR && buf[pos + 1] === LF)) break;
    const nl = buf.indexOf(LF, pos);
    const lineEnd = nl === -1 ? len : nl + 1;
    if (first !== SP && first !== HT) {
      if (fieldStart !== -1) visit(fieldStart, colon, pos);
      colon = findColon(buf, pos, lineEnd);
      fieldStart = colon === -1 ? -1 : pos;
    }
    pos = lineEnd;
  }
  if (fieldStart !== -1) visit(fieldStart, colon, pos);
  return pos;
}

/** Field names are printable ASCII without `:`; obsolete syntax allows blanks before the colon. */
function findColon(buf: Buffer, from: number, to: number): number {
  let blanks = false;
  for (let i = from; i < to; i++) {
    const b = buf[i] as number;
    if (b === COLON) return i === from ? -1 : i;
    if (b === SP || b === HT) blanks = true;
    else if (blanks || b < 0x21 || b > 0x7e) return -1;
  }
  return -1;
}

/** Lower-cased field name without trailing blanks. */
export function fieldName(buf: Buffer, start: number, colon: number): string {
  return buf.toString('latin1', start, colon).trimEnd().toLowerCase();
}

/**
 * The unfolded, trimmed raw value. Inside one field every line break is followed by a blank (that
 * is what made it a continuation), so removing all CR/LF is exactly RFC 5322 unfolding.
 */
export function fieldValue(buf: Buffer, colon: number, end: number): string {
  return buf.toString('utf8', colon + 1, end).replace(/[\r\n]+/g, '').trim();
}

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded, trimmed raw value (RFC 2047 words not decoded). */
  value: string;
}

/** Headers larger than this are not mail; a string message is encoded only this far to read them. */
const MAX_HEADER_BYTES = 256 * 1024;

/** A string message's header block (up to its empty line) as bytes: the body is never encoded. */
function headerBytes(mime: Buffer | string): Buffer {
  if (typeof mime !== 'string') return mime;
  const end = Math.min(headerEnd(mime), MAX_HEADER_BYTES);
  return Buffer.from(end < mime.length ? mime.slice(0, end) : mime);
}

/** Where the first empty line (CRLF or bare LF) of `mime` starts; its length when there is none. */
function headerEnd(mime: string): number {
  if (mime.startsWith('\n') || mime.startsWith('\r\n')) return 0;
  // CRLF mail first; the bare-LF search then only looks in front of it, not through the whole body
  const crlf = mime.indexOf('\n\r\n');
  const end = crlf === -1 ? mime.length : crlf + 1;
  const lf = (end < mime.length ? mime.slice(0, end) : mime).indexOf('\n\n');
  return lf === -1 ? end : lf + 1;
}

/** Every field of the header block, in order; the body is never looked at. */
export function readHeaderFields(mime: Buffer | string): HeaderField[] {
  const buf = headerBytes(mime);
  const fields: HeaderField[] = [];
  scanHeaders(buf, (start, colon, end) => fields.push({ name: fieldName(buf, start, colon), value: fieldValue(buf, colon, end) }));
  return fields;
}

/** The header block as written, line endings untouched, without the empty line that ends it. */
export function headerBlock(mime: string): string {
  const buf = headerBytes(mime);
  return buf.toString('utf8', 0, scanHeaders(buf, () => undefined));
}

/**
 * The message without the header fields `drop` picks (given the lower-cased name, and the unfolded
 * value on demand); every other byte unchanged. Returns `mime` itself when nothing is dropped.
 */
export function dropHeaderFields(mime: Buffer, drop: (name: string, value: () => string) => boolean): Buffer {
  const cuts: Array<[number, number]> = [];
  scanHeaders(mime, (start, colon, end) => {
    if (drop(fieldName(mime, start, colon), () => fieldValue(mime, colon, end))) cuts.push([start, end]);
  });
  if (cuts.length === 0) return mime;
  const kept: Buffer[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    kept.push(mime.subarray(at, start));
    at = end;
  }
  kept.push(mime.subarray(at));
  return Buffer.concat(kept);
}
