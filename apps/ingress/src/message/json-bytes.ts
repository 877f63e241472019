import { randomBytes } from 'node:crypto';

/**
 * Placeholders: a random part drawn once per process (so no sender can guess one and write it into
 * a header) and a counter, instead of randomBytes() for every message (a getrandom call each: 3 %
 * of ingress's CPU profile).
 */
const RUN = randomBytes(8).toString('hex');
let sequence = 0;
const newPlaceholder = (): string => `@@mtaq-mime-${RUN}-${(++sequence).toString(36)}@@`;

/**
 * The message as the JSON `mime` string, built from its bytes without ever making the whole of it a
 * JS string: a multi-megabyte message would otherwise exist as the body, a string, the JSON string
 * and the JSON bytes at once (and again as garbage until V8 collects it). The escaping is
 * JSON.stringify's: `"` `\` and control characters; bytes ≥ 0x80 pass through (UTF-8 mail) or
 * become their UTF-8 form (mail that is not UTF-8 travels as latin1, `mime-encoding: latin1`).
 */
export class MimeJson {
  /** What a document's `mime` holds until encode() puts the message in its place. */
  readonly placeholder = newPlaceholder();
  /** The message, escaped, without the quotes: one buffer, or slices of a large one in order. */
  readonly #escaped: readonly Buffer[];
  /** Bytes of the escaped message. */
  readonly size: number;
  readonly #latin1: boolean;
  /** Placeholder → escaped header fields that copy has on top of the shared message. */
  readonly #heads = new Map<string, Buffer>();

  constructor(parts: readonly Buffer[], latin1: boolean) {
    this.#escaped = escape(parts, latin1);
    let size = 0;
    for (const piece of this.#escaped) size += piece.length;
    this.size = size;
    this.#latin1 = latin1;
  }

  /**
   * A placeholder for the message with `head` (whole header fields) on top, for the copies that
   * carry a field others do not (Authentication-Results for local recipients only): the message
   * itself is still held once.
   */
  withHead(head: Buffer): string {
    const placeholder = newPlaceholder();
    this.#heads.set(placeholder, Buffer.concat(escape([head], this.#latin1)));
    return placeholder;
  }

  /** `document` as JSON bytes, its `mime` the message: one copy, made when it is published. */
  encode(document: object): Buffer {
    const json = JSON.stringify(document);
    for (const [placeholder, head] of [[this.placeholder, undefined] as const, ...this.#heads]) {
      const marker = `"${placeholder}"`;
      const at = json.indexOf(marker);
      if (at < 0) continue;
      // written straight into one buffer: no separate copies of the parts to concatenate
      const before = json.slice(0, at + 1);
      const after = json.slice(at + marker.length - 1);
      const out = Buffer.allocUnsafe(Buffer.byteLength(before, 'utf8') + (head?.length ?? 0) + this.size + Buffer.byteLength(after, 'utf8'));
      let o = out.write(before, 0, 'utf8');
      if (head) o += head.copy(out, o);
      for (const piece of this.#escaped) o += piece.copy(out, o);
      out.write(after, o, 'utf8');
      return out;
    }
    return Buffer.from(json, 'utf8');
  }
}

/**
 * Parts up to this size are escaped by V8's JSON.stringify in one go (native: a third of a byte
 * loop's CPU); larger ones a slice of this size at a time, each slice's string garbage as soon as
 * it is written, so a large message is never a JS string as a whole.
 */
const SLICE = 64 * 1024;

/** The parts, escaped, as one buffer (every part up to SLICE) or as slices in order. */
function escape(parts: readonly Buffer[], latin1: boolean): Buffer[] {
  if (parts.every((part) => part.length <= SLICE)) return [escapeWhole(parts, latin1)];
  const slices: Buffer[] = [];
  for (const part of parts) {
    for (let start = 0; start < part.length; ) {
      const end = sliceEnd(part, start, latin1);
      slices.push(escapedBytes(part.toString(latin1 ? 'latin1' : 'utf8', start, end)));
      start = end;
    }
  }
  return slices;
}

/**
 * Where the slice from `start` ends: SLICE bytes on, moved back to the start of a UTF-8 character
 * (never inside one, which would decode as two U+FFFD); latin1 has one byte per character.
 */
function sliceEnd(part: Buffer, start: number, latin1: boolean): number {
  const end = Math.min(part.length, start + SLICE);
  if (latin1) return end;
  let at = end;
  while (at < part.length && at > start && (part[at]! & 0xc0) === 0x80) at--;
  // a slice of nothing but continuation bytes is not UTF-8 anyway: cut it where it is
  return at > start ? at : end;
}

function escapedBytes(text: string): Buffer {
  const quoted = JSON.stringify(text);
  return Buffer.from(quoted.slice(1, -1), 'utf8');
}

function escapeWhole(parts: readonly Buffer[], latin1: boolean): Buffer {
  const quoted = parts.map((part) => JSON.stringify(part.toString(latin1 ? 'latin1' : 'utf8')));
  let length = 0;
  for (const q of quoted) length += Buffer.byteLength(q, 'utf8') - 2;
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  for (const q of quoted) o += out.write(q.slice(1, -1), o, 'utf8');
  return out;
}
