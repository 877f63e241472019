import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { EnvelopeError } from '@mtaq/errors';
import { decodeMessage, encodeMessage } from '../src/index.js';

const doc = { recipient: 'bob@example.org', mime: 'From: a\r\n\r\nHi ✓', tags: ['ünï'], 'my-ref': 7 };

test('gzip round trip sets content-encoding and restores the document', () => {
  const encoded = encodeMessage(doc, { gzip: true });
  assert.equal(encoded.contentEncoding, 'gzip');
  assert.deepEqual(JSON.parse(gunzipSync(encoded.body).toString('utf8')), doc);
  assert.deepEqual(decodeMessage(encoded.body, encoded.contentEncoding), doc);
  assert.deepEqual(decodeMessage(encoded.body, 'GZIP'), doc);
});

test('plain encoding has no content-encoding', () => {
  const encoded = encodeMessage(doc);
  assert.equal(encoded.contentEncoding, undefined);
  assert.equal(encoded.body.toString('utf8'), JSON.stringify(doc));
  assert.deepEqual(decodeMessage(encoded.body), doc);
  assert.deepEqual(decodeMessage(encoded.body, ''), doc);
});

test('decodeMessage rejects bad JSON, bad gzip and unknown encodings with EnvelopeError', () => {
  assert.throws(() => decodeMessage(Buffer.from('{"recipient":')), EnvelopeError);
  assert.throws(() => decodeMessage(Buffer.from('{}'), 'gzip'), EnvelopeError);
  assert.throws(() => decodeMessage(Buffer.from('{}'), 'br'), EnvelopeError);
});

test('decodeMessage tolerates a UTF-8 byte-order mark', () => {
  assert.deepEqual(decodeMessage(Buffer.from('\ufeff{"a":1}', 'utf8')), { a: 1 });
});

test('a document above the size cap is refused, also when it only grows by decompression', () => {
  const big = encodeMessage({ recipient: 'a@b.test', mime: 'x'.repeat(100_000) }, { gzip: true });
  assert.ok(big.body.length < 2000, 'compresses well');
  assert.throws(() => decodeMessage(big.body, 'gzip', 50_000), /larger than the limit of 50000 bytes/);
  const plain = encodeMessage({ recipient: 'a@b.test', mime: 'x'.repeat(100_000) });
  assert.throws(() => decodeMessage(plain.body, undefined, 50_000), /larger than the limit/);
  assert.equal((decodeMessage(plain.body, undefined, 200_000) as { recipient: string }).recipient, 'a@b.test');
});
