/**
 * Queue bodies: JSON, optionally gzip-compressed and flagged by the AMQP `content-encoding`
 * property. Consumers always honour that property, whatever our own `rabbitmq-encoding` says.
 */

import { gunzipSync, gzipSync } from 'node:zlib';
import { EnvelopeError } from '@mtaq/errors';

export interface EncodedMessage {
  body: Buffer;
  contentEncoding?: 'gzip';
}

/**
 * Parses a queue body into plain JSON (validate it with one of the parse* functions). `maxBytes`
 * caps the JSON text, after decompression: a small gzip body can otherwise inflate to gigabytes.
 */
export function decodeMessage(body: Buffer, contentEncoding?: string, maxBytes = Infinity): unknown {
  const encoding = contentEncoding?.trim().toLowerCase() ?? '';
  const tooLarge = (): EnvelopeError => new EnvelopeError('', `document is larger than the limit of ${maxBytes} bytes`);
  let json: Buffer;
  if (encoding === '' || encoding === 'identity') json = body;
  else if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      json = gunzipSync(body, Number.isFinite(maxBytes) ? { maxOutputLength: maxBytes } : {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
      throw new EnvelopeError('', `body is not valid gzip: ${(e as Error).message}`);
    }
  } else throw new EnvelopeError('', `unsupported content-encoding ${JSON.stringify(contentEncoding)}`);
  if (json.length > maxBytes) throw tooLarge();

  let text = json.toString('utf8');
  // Some producers write a byte-order mark, which JSON.parse rejects.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new EnvelopeError('', `body is not valid JSON: ${(e as Error).message}`);
  }
}

export function encodeMessage(message: object, options: { gzip?: boolean } = {}): EncodedMessage {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  return options.gzip === true ? { body: gzipSync(json), contentEncoding: 'gzip' } : { body: json };
}
