/**
 * The stream refuseBareLineEndings hands the application: the size facts smtp-server keeps on its own
 * stream are read through it, and every such stream shares one hidden class. Streams that each got a
 * class of their own (getters defined per instance) cost ingress about 28 MB of peak RSS at 150
 * sessions (bench/compare.sh), so the shape is checked with V8's own predicates.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import type { SMTPServerDataStream } from 'smtp-server';
import { refuseBareLineEndings, type DataCallback } from '../../src/smtp/bare-line-endings.js';

/** smtp-server's data stream: a PassThrough on which the parser sets byteLength and sizeExceeded. */
function rawStream(): SMTPServerDataStream {
  const raw = new PassThrough() as unknown as SMTPServerDataStream;
  raw.byteLength = 0;
  raw.sizeExceeded = false;
  return raw;
}

/** The stream the application is given for `raw`, and the reply smtp-server would send. */
function checked(raw: SMTPServerDataStream): { stream: SMTPServerDataStream; reply: Promise<Parameters<DataCallback>> } {
  let stream: SMTPServerDataStream | undefined;
  const reply = new Promise<Parameters<DataCallback>>((resolve) => {
    refuseBareLineEndings(raw, (...args) => resolve(args), (forApp, done) => {
      stream = forApp;
      const chunks: Buffer[] = [];
      forApp.on('data', (chunk: Buffer) => chunks.push(chunk));
      forApp.on('end', () => done(null, `got ${Buffer.concat(chunks).length} bytes`));
    });
  });
  assert.ok(stream, 'the application was called at once');
  return { stream, reply };
}

test("the application's stream reads byteLength and sizeExceeded from smtp-server's, as the parser sets them", async () => {
  const raw = rawStream();
  const { stream, reply } = checked(raw);
  assert.equal(stream.byteLength, 0);
  raw.write(Buffer.from('Subject: x\r\n\r\nbody\r\n'));
  raw.byteLength = 20;
  raw.sizeExceeded = true;
  assert.equal(stream.byteLength, 20);
  assert.equal(stream.sizeExceeded, true);
  raw.end();
  assert.deepEqual(await reply, [null, 'got 20 bytes']);
});

test('a bare LF is refused with 554 5.6.11 and the application never sees the end', async () => {
  const raw = rawStream();
  const { reply } = checked(raw);
  raw.end(Buffer.from('Subject: x\n\r\nbody\r\n'));
  const [err] = await reply;
  assert.ok(err instanceof Error);
  assert.match(String((err as Error & { responseCode?: number }).responseCode), /^554$/);
  assert.match(err.message, /5\.6\.11/);
});

test('every stream handed to the application shares one hidden class, with fast properties', () => {
  setFlagsFromString('--allow-natives-syntax');
  try {
    // compiled after the flag: V8's intrinsics are only parsed with it on
    const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
    const fast = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;
    const first = checked(rawStream()).stream;
    const second = checked(rawStream()).stream;
    assert.equal(fast(first), true, 'fast properties (not a dictionary)');
    assert.equal(sameMap(first, second), true, 'one hidden class for all of them');
  } finally {
    setFlagsFromString('--no-allow-natives-syntax');
  }
});
