/**
 * The `headers` edits of an outgoing message (reference §4): `remove`, `replace`, `update`,
 * `prepend`, `append` (alias `add`), applied in that order to the header block only — every byte of
 * the body, and every field no edit touches, stays as it was. Delivery applies them before DKIM
 * signing, so the signature covers the edited message.
 *
 * - `remove`: a name or an array of names; every field of that name goes.
 * - `replace`: `{name: value}`; the first field of that name gets the value, the others go; a name
 *   the message lacks is appended at the end of the header block.
 * - `update`: like `replace`, but a name the message lacks is not added.
 * - `prepend`: `{name: value | [values]}`; the fields are put at the top of the header block, in the
 *   order written (object order, then array order).
 * - `append` / `add`: the same at the end of the header block (`append` first, then `add`).
 *
 * Names are case-insensitive; a rewritten field keeps the spelling of its name in the message.
 * Values with non-ASCII characters are RFC 2047 encoded (libmime, Q encoding) and every written
 * field is folded at 78 characters. A value with CR, LF or NUL, or a name that is not a field name,
 * is refused ({@link headerEditsProblem}): such a message is `process/invalid`, never sent.
 */

import libmime from 'libmime';
import type { OutgoingMessage } from '@mtaq/envelope';

/** The `headers` property as the validator let it through (its shape is checked again here). */
export type HeaderEdits = NonNullable<OutgoingMessage['headers']>;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

/** RFC 5322 line length a written field is folded to (excluding the line ending). */
export const FOLD_AT = 78;

/** RFC 5322 field name: printable ASCII except the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
// eslint-disable-next-line no-control-regex
const LINE_BREAKING = /[\r\n\u0000]/;

interface Field {
  /** Lower-cased name, or undefined for a line that is not a field (an mbox `From ` line, garbage). */
  readonly name: string | undefined;
  /** The field as written, continuation lines and line ending included. */
  raw: Buffer;
}

function asList(value: unknown): unknown[] {
  return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
}

/** `{name: value | [values]}` as [name, value] pairs, in order; values are strings after the check. */
function valuePairs(values: unknown): Array<[string, string]> {
  if (values === undefined || values === null || typeof values !== 'object') return [];
  return Object.entries(values).flatMap(([name, v]) => asList(v).map((one): [string, string] => [name, one as string]));
}

/**
 * Why `edits` cannot be applied (a value that would break out of its header line, or a name that
 * is no field name), or undefined when they can. Checked before anything else about the message.
 */
export function headerEditsProblem(edits: HeaderEdits | undefined): string | undefined {
  if (edits === undefined) return undefined;
  for (const kind of ['replace', 'update', 'prepend', 'append', 'add'] as const) {
    for (const [name, value] of valuePairs(edits[kind])) {
      if (!FIELD_NAME.test(name)) return `headers.${kind}: ${JSON.stringify(name)} is not a header field name`;
      if (typeof value !== 'string') return `headers.${kind}.${name}: expected a string or an array of strings`;
      if (LINE_BREAKING.test(value)) return `headers.${kind}.${name}: a value must not contain CR, LF or NUL (header injection)`;
    }
  }
  return undefined;
}

/** True when `edits` would change anything at all. */
export function hasHeaderEdits(edits: HeaderEdits | undefined): boolean {
  if (edits === undefined) return false;
  return (
    asList(edits.remove).length > 0 ||
    (['replace', 'update', 'prepend', 'append', 'add'] as const).some((k) => valuePairs(edits[k]).length > 0)
  );
}

/** One header field as written by us: RFC 2047 words for non-ASCII text, folded at {@link FOLD_AT}. */
export function formatField(name: string, value: string, newline = '\r\n'): string {
  // eslint-disable-next-line no-control-regex
  const encoded = /[^\x00-\x7f]/.test(value) ? libmime.encodeWords(value, 'Q', 52) : value;
  const folded = libmime.foldLines(`${name}: ${encoded}`, FOLD_AT);
  return (newline === '\r\n' ? folded : folded.replace(/\r\n/g, newline)) + newline;
}

/** Splits the header block into fields; returns them and where the block ends. */
function splitHeader(buf: Buffer): { fields: Field[]; end: number } {
  const fields: Field[] = [];
  let pos = 0;
  let current: { name: string | undefined; start: number } | undefined;
  const close = (to: number): void => {
    if (current) fields.push({ name: current.name, raw: buf.subarray(current.start, to) });
  };
  while (pos < buf.length) {
    const first = buf[pos];
    if (first === LF || (first === CR && buf[pos + 1] === LF)) break;
    const nl = buf.indexOf(LF, pos);
    const lineEnd = nl === -1 ? buf.length : nl + 1;
    const continuation = (first === SP || first === HT) && current?.name !== undefined;
    if (!continuation) {
      close(pos);
      current = { name: nameOf(buf, pos, lineEnd), start: pos };
    }
    pos = lineEnd;
  }
  close(pos);
  return { fields, end: pos };
}

/** The lower-cased field name of the line `from..to`, or undefined when it is not a field. */
function nameOf(buf: Buffer, from: number, to: number): string | undefined {
  const colon = buf.indexOf(0x3a, from);
  if (colon <= from || colon >= to) return undefined;
  const name = buf.toString('latin1', from, colon).replace(/[ \t]+$/, '');
  return FIELD_NAME.test(name) ? name.toLowerCase() : undefined;
}

/** The message's name spelling of a field, e.g. `Subject` for a field written `Subject: …`. */
function writtenName(field: Field): string {
  const colon = field.raw.indexOf(0x3a);
  return field.raw.toString('latin1', 0, colon).replace(/[ \t]+$/, '');
}

/**
 * `mime` with `edits` applied (order remove → replace → update → prepend → append/add). Returns
 * `mime` itself when there is nothing to do. Throws when {@link headerEditsProblem} finds a problem:
 * callers check first and fail the message with the reason.
 */
export function applyHeaderEdits(mime: Buffer, edits: HeaderEdits | undefined): Buffer {
  if (!hasHeaderEdits(edits) || edits === undefined) return mime;
  const problem = headerEditsProblem(edits);
  if (problem) throw new Error(problem);

  const { fields: parsed, end } = splitHeader(mime);
  const firstLineEnd = mime.indexOf(LF);
  const newline = firstLineEnd > 0 && mime[firstLineEnd - 1] === CR ? '\r\n' : firstLineEnd === -1 ? '\r\n' : '\n';
  const written = (name: string, value: string): Field => ({ name: name.toLowerCase(), raw: Buffer.from(formatField(name, value, newline), 'latin1') });

  const removed = new Set(asList(edits.remove).map((n) => String(n).trim().toLowerCase()));
  let fields = parsed.filter((f) => f.name === undefined || !removed.has(f.name));

  const rewrite = (name: string, value: string, appendIfAbsent: boolean): void => {
    const lower = name.toLowerCase();
    const first = fields.findIndex((f) => f.name === lower);
    if (first === -1) {
      if (appendIfAbsent) fields.push(written(name, value));
      return;
    }
    const replacement = written(writtenName(fields[first]!), value);
    fields = fields.flatMap((f, i) => (i === first ? [replacement] : f.name === lower ? [] : [f]));
  };
  for (const [name, value] of valuePairs(edits.replace)) rewrite(name, value, true);
  for (const [name, value] of valuePairs(edits.update)) rewrite(name, value, false);

  const top = valuePairs(edits.prepend).map(([name, value]) => written(name, value));
  const bottom = [...valuePairs(edits.append), ...valuePairs(edits.add)].map(([name, value]) => written(name, value));
  // The last original line may lack its line ending (a message that is only a header, unterminated).
  const last = fields.at(-1);
  if (bottom.length > 0 && last && last.raw.length > 0 && last.raw[last.raw.length - 1] !== LF) {
    last.raw = Buffer.concat([last.raw, Buffer.from(newline)]);
  }
  return Buffer.concat([...[...top, ...fields, ...bottom].map((f) => f.raw), mime.subarray(end)]);
}
