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

test('a string message is read up to its first empty line, whichever line ending it uses', () => {
  const body = `\r\nNot-A-Header: body\r\n${'x'.repeat(300 * 1024)}`;
  assert.deepEqual(readHeaderFields(`A: 1\r\nB: 2\r\n${body}`), [{ name: 'a', value: '1' }, { name: 'b', value: '2' }]);
  assert.deepEqual(readHeaderFields('A: 1\nB: 2\n\nC: body\r\n\r\nD: body'), [{ name: 'a', value: '1' }, { name: 'b', value: '2' }]);
  assert.deepEqual(readHeaderFields('A: 1\r\n\nC: body\n\nD: body'), [{ name: 'a', value: '1' }]);
  assert.deepEqual(readHeaderFields('\r\nC: body'), []);
  assert.deepEqual(readHeaderFields('\nC: body'), []);
  assert.deepEqual(readHeaderFields('A: 1\r\n folded\r\nB: 2'), [{ name: 'a', value: '1 folded' }, { name: 'b', value: '2' }]);
  assert.equal(headerBlock(`Subject: x\r\n${body}`), 'Subject: x\r\n');
  assert.equal(headerBlock('Subject: x\n\nbody'), 'Subject: x\n');
});
