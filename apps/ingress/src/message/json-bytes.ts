import { randomBytes } from 'node:crypto';

/**
 * The message as the JSON `mime` string, built from its bytes without ever making it a JS string:
 * a multi-megabyte message would otherwise exist as the body, a string, the JSON string and the
 * JSON bytes at once (and again as garbage until V8 collects it). The escaping is JSON.stringify's:
 * `"` `\` and control characters; bytes ≥ 0x80 pass through (UTF-8 mail) or become their UTF-8
 * form (mail that is not UTF-8 travels as latin1, `mime-encoding: latin1`).
 */
/**
 * Placeholders: a random part drawn once per process (so no sender can guess one and write it into
 * a header) and a counter, instead of randomBytes() for every message (a getrandom call each: 3 %
 * of ingress's CPU profile).
 */
const RUN = randomBytes(8).toString('hex');
let sequence = 0;
const newPlaceholder = (): string => `@@mtaq-mime-${RUN}-${(++sequence).toString(36)}@@`;

export class MimeJson {
  /** What a document's `mime` holds until encode() puts the message in its place. */
  readonly placeholder = newPlaceholder();
  /** The message, escaped, without the quotes. */
  readonly escaped: Buffer;
  readonly #latin1: boolean;
  /** Placeholder → escaped header fields that copy has on top of the shared message. */
  readonly #heads = new Map<string, Buffer>();

  constructor(parts: readonly Buffer[], latin1: boolean) {
    this.escaped = escape(parts, latin1);
    this.#latin1 = latin1;
  }

  /**
   * A placeholder for the message with `head` (whole header fields) on top, for the copies that
   * carry a field others do not (Authentication-Results for local recipients only): the message
   * itself is still held once.
   */
  withHead(head: Buffer): string {
    const placeholder = newPlaceholder();
    this.#heads.set(placeholder, escape([head], this.#latin1));
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
      const out = Buffer.allocUnsafe(Buffer.byteLength(before, 'utf8') + (head?.length ?? 0) + this.escaped.length + Buffer.byteLength(after, 'utf8'));
      let o = out.write(before, 0, 'utf8');
      if (head) o += head.copy(out, o);
      o += this.escaped.copy(out, o);
      out.write(after, o, 'utf8');
      return out;
    }
    return Buffer.from(json, 'utf8');
  }
}

const SHORT: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };
const HEX = '0123456789abcdef';

/**
 * Parts up to this size are escaped by V8's JSON.stringify (native; a third of the byte loop's CPU
 * for a 1 KB message), which makes the same bytes: the same short escapes, `\u00XX` for the other
 * controls, everything else as it is (re-encoded as UTF-8, so latin1 bytes ≥ 0x80 become their
 * UTF-8 form). Larger parts take the byte loop, which holds no transient copy of the message.
 */
const NATIVE_MAX = 256 * 1024;

function escape(parts: readonly Buffer[], latin1: boolean): Buffer {
  if (parts.every((part) => part.length <= NATIVE_MAX)) return escapeNative(parts, latin1);
  return escapeBytes(parts, latin1);
}

function escapeNative(parts: readonly Buffer[], latin1: boolean): Buffer {
  const quoted = parts.map((part) => JSON.stringify(part.toString(latin1 ? 'latin1' : 'utf8')));
  let length = 0;
  for (const q of quoted) length += Buffer.byteLength(q, 'utf8') - 2;
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  for (const q of quoted) o += out.write(q.slice(1, -1), o, 'utf8');
  return out;
}

function escapeBytes(parts: readonly Buffer[], latin1: boolean): Buffer {
  let length = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const b = part[i]!;
      if (b === 0x22 || b === 0x5c) length += 2;
      else if (b < 0x20) length += SHORT[b] !== undefined ? 2 : 6;
      else if (b >= 0x80 && latin1) length += 2;
      else length += 1;
    }
  }
  const out = Buffer.allocUnsafe(length);
  let o = 0;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      const b = part[i]!;
      if (b === 0x22 || b === 0x5c) {
        out[o++] = 0x5c;
        out[o++] = b;
      } else if (b < 0x20) {
        out[o++] = 0x5c;
        const short = SHORT[b];
        if (short !== undefined) out[o++] = short;
        else {
          out[o++] = 0x75;
          out[o++] = 0x30;
          out[o++] = 0x30;
          out[o++] = HEX.charCodeAt(b >> 4);
          out[o++] = HEX.charCodeAt(b & 15);
        }
      } else if (b >= 0x80 && latin1) {
        out[o++] = 0xc0 | (b >> 6);
        out[o++] = 0x80 | (b & 0x3f);
      } else out[o++] = b;
    }
  }
  return out;
}
