import libmime from 'libmime';

/**
 * RFC 2047 decoding that never throws: a malformed encoded word (or an unknown charset) is kept as
 * written, because a header we cannot decode must never cost the message.
 */
export function decodeHeaderValue(value: string): string {
  // no encoded word: nothing to decode (libmime's three regex passes would return it unchanged)
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}
