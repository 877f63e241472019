import assert from 'node:assert/strict';
import { configFromValues, type Config } from '@mtaq/config';
import { parseTime, type OutgoingMessage } from '@mtaq/envelope';

export function testConfig(values: Record<string, string> = {}): Config {
  return configFromValues(values).config;
}

export const T = parseTime('2024-05-01 10:00:00');

export function at(seconds: number): Date {
  return new Date(T.getTime() + seconds * 1000);
}

export const MIME = [
  'From: "Shop, Inc." <shop@example.com>',
  'To: Info <info@example.org>, second@example.org',
  'Subject: =?UTF-8?Q?Caf=C3=A9_order?=',
  'Message-ID: <abc@example.com>',
  'Received: from a by b',
  'Received: from c by d',
  'X-Long: first',
  '  continued',
  '',
  'Hello there',
  '',
].join('\r\n');

export function message(extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { envelope: 'bounce@example.com', recipient: 'info@example.org', mime: MIME, 'my-ref': 'order-991', ...extra };
}

export interface ParsedPart {
  headers: Map<string, string>;
  body: string;
}

/** Splits a header block + body written with CRLF; header names lower-cased, folded values unfolded. */
export function parseEntity(text: string): ParsedPart {
  const split = text.indexOf('\r\n\r\n');
  const head = split === -1 ? text : text.slice(0, split);
  const body = split === -1 ? '' : text.slice(split + 4);
  const headers = new Map<string, string>();
  for (const field of head.split(/\r\n(?![ \t])/)) {
    if (field === '') continue;
    const colon = field.indexOf(':');
    assert.ok(colon > 0, `not a header field: ${JSON.stringify(field)}`);
    headers.set(field.slice(0, colon).toLowerCase(), field.slice(colon + 1).replace(/\r\n/g, '').trim());
  }
  return { headers, body };
}

/** A multipart body split on its boundary, checking the delimiters RFC 2046 requires. */
export function splitMultipart(mime: string): { top: ParsedPart; parts: ParsedPart[] } {
  const top = parseEntity(mime);
  const boundary = /boundary="([^"]+)"/.exec(top.headers.get('content-type') ?? '')?.[1];
  assert.ok(boundary !== undefined, 'multipart without boundary');
  const closing = `\r\n--${boundary}--\r\n`;
  assert.ok(top.body.endsWith(closing), 'missing close delimiter');
  const inner = top.body.slice(0, -closing.length);
  const pieces = inner.split(`\r\n--${boundary}\r\n`);
  pieces.shift(); // preamble
  return { top, parts: pieces.map(parseEntity) };
}

/** `name: value` lines of a delivery-status block, grouped per paragraph. */
export function statusGroups(body: string): Map<string, string>[] {
  return body
    .split('\r\n\r\n')
    .filter((p) => p.trim() !== '')
    .map((p) => parseEntity(p + '\r\n\r\n').headers);
}
