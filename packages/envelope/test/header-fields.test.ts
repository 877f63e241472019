import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeHeaderValue, headerBlock, readHeaderFields } from '../src/index.js';

test('readHeaderFields unfolds, lower-cases names, skips non-fields and stops at the empty line', () => {
  const mime = 'From ignored mbox line\r\nSubject: one\r\n two\r\nX-Thing : v\nContent-Type: multipart/report;\r\n\treport-type=delivery-status\r\n\r\nBody: not a header\r\n';
  assert.deepEqual(readHeaderFields(mime), [
    { name: 'subject', value: 'one two' },
    { name: 'x-thing', value: 'v' },
    { name: 'content-type', value: 'multipart/report;\treport-type=delivery-status' },
  ]);
  assert.deepEqual(readHeaderFields(Buffer.from(mime)), readHeaderFields(mime));
});

test('headerBlock keeps the header lines as written, UTF-8 included, and nothing of the body', () => {
  const head = 'Subject: Grüße\r\nTo: zoë@example.org\r\n';
  assert.equal(headerBlock(`${head}\r\nbody\r\n`), head);
  assert.equal(headerBlock('\r\nonly a body\r\n'), '');
  assert.equal(headerBlock('No-Body: true\r\n'), 'No-Body: true\r\n');
});

test('decodeHeaderValue decodes encoded words and returns anything else exactly as written', () => {
  assert.equal(decodeHeaderValue('=?UTF-8?B?R3LDvMOfZQ==?= =?UTF-8?Q?_aus_K=C3=B6ln?='), 'Grüße aus Köln');
  assert.equal(decodeHeaderValue('plain text, no words'), 'plain text, no words');
  assert.equal(decodeHeaderValue('odd __\x00JOIN\x00__ marker'), 'odd __\x00JOIN\x00__ marker');
  assert.equal(decodeHeaderValue('=?bogus'), '=?bogus');
});
