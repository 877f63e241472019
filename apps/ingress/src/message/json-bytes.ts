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
      const before = Buffer.from(json.slice(0, at + 1), 'utf8');
      const after = Buffer.from(json.slice(at + marker.length - 1), 'utf8');
      return Buffer.concat([before, ...(head ? [head] : []), this.escaped, after]);
    }
    return Buffer.from(json, 'utf8');
  }
}

const SHORT: Record<number, number> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };
const HEX = '0123456789abcdef';

function escape(parts: readonly Buffer[], latin1: boolean): Buffer {
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
