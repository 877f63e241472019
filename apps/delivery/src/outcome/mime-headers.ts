/**
 * Reading the header block of a raw message: result documents summarise it and bounces quote it.
 * The body is never looked at, so multi-megabyte messages cost only a scan to the first empty line.
 */

import libmime from 'libmime';

export interface HeaderField {
  /** Lower-cased field name. */
  name: string;
  /** Unfolded, trimmed raw value (no RFC 2047 decoding). */
  value: string;
}

/** Length of the header block including its line endings, excluding the empty line that ends it. */
export function headerBlockLength(mime: string): number {
  if (mime.startsWith('\r\n') || mime.startsWith('\n')) return 0;
  const end = /\r?\n\r?\n/.exec(mime);
  if (end === null) return mime.length;
  // Keep the last header line's own line ending inside the block.
  const firstBreak = mime[end.index] === '\r' ? 2 : 1;
  return end.index + firstBreak;
}

/** The header block as written, line endings untouched. */
export function headerBlock(mime: string): string {
  return mime.slice(0, headerBlockLength(mime));
}

/**
 * Every field in order. Lines that are neither a field nor a continuation (an mbox `From ` line,
 * garbage) are skipped together with any continuation lines after them.
 */
export function parseHeaderFields(mime: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: { name: string; lines: string[] } | undefined;
  let skipping = false;
  const flush = (): void => {
    if (current !== undefined) fields.push({ name: current.name, value: current.lines.join('').trim() });
    current = undefined;
  };
  for (const line of headerBlock(mime).split(/\r?\n/)) {
    if (line === '') continue;
    if (line[0] === ' ' || line[0] === '\t') {
      // RFC 5322 unfolding: drop the line break, keep the blank that starts the continuation.
      if (current !== undefined && !skipping) current.lines.push(line);
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trimEnd() : '';
    skipping = name === '' || !/^[\x21-\x39\x3b-\x7e]+$/.test(name);
    if (!skipping) current = { name: name.toLowerCase(), lines: [line.slice(colon + 1)] };
  }
  flush();
  return fields;
}

/** RFC 2047 decoding that never throws: a malformed encoded word is shown as written. */
export function decodeHeaderValue(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}
