import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MimeJson } from '../../src/message/json-bytes.js';

test('the escaped message is byte for byte what JSON.stringify makes of it (UTF-8 and latin1)', () => {
  const all = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
  const utf8 = Buffer.from('Received: x\r\nSubject: "q" \\ é ☃ 𝄞\r\n\r\n\u0000\u0001\u001f\u007f body\t\b\f', 'utf8');
  const cases: Array<[Buffer[], boolean, string]> = [
    [[all, utf8], false, all.toString('utf8') + utf8.toString('utf8')],
    [[Buffer.from('Received: y\r\n'), Buffer.from([0xe9, 0x22, 0xff, 0x0a, 0x80])], true, 'Received: y\r\n' + Buffer.from([0xe9, 0x22, 0xff, 0x0a, 0x80]).toString('latin1')],
  ];
  // past 64 KiB a part is escaped a slice at a time: the slices must make the same bytes, and a
  // character across a slice's end (é, ☃ and 𝄞 at every offset around 64 KiB) must stay whole
  const big = Buffer.concat([all, utf8, Buffer.alloc(300 * 1024, 'x"\\\r\n\u0001é')]);
  for (let pad = 65_530; pad < 65_540; pad++) {
    const straddling = Buffer.from('a'.repeat(pad) + 'é☃𝄞"\r\n'.repeat(3), 'utf8');
    cases.push([[straddling], false, straddling.toString('utf8')]);
  }
  const bigLatin1 = Buffer.concat([Buffer.alloc(300 * 1024, 'ab\r\n'), Buffer.from([0xe9, 0x22, 0xff, 0x0a, 0x80])]);
  cases.push([[utf8, big], false, utf8.toString('utf8') + big.toString('utf8')]);
  cases.push([[Buffer.from('Received: z\r\n'), bigLatin1], true, 'Received: z\r\n' + bigLatin1.toString('latin1')]);
  for (const [parts, latin1, text] of cases) {
    const mime = new MimeJson(parts, latin1);
    const doc = { 'message-id': 'a', recipient: 'b@x', mime: mime.placeholder, after: 1 };
    assert.equal(mime.encode(doc).toString('utf8'), JSON.stringify({ ...doc, mime: text }));
    assert.deepEqual(JSON.parse(mime.encode(doc).toString('utf8')).mime, text);
  }
});

test('withHead: the copies that carry an extra field get it on top, the others do not; the message is held once', () => {
  const mime = new MimeJson([Buffer.from('Received: x\r\n'), Buffer.from('Subject: "s"\r\n\r\nbody\r\n')], false);
  const head = mime.withHead(Buffer.from('Authentication-Results: mx; none\r\n'));
  assert.notEqual(head, mime.placeholder);
  const plain = JSON.parse(mime.encode({ recipient: 'a@x', mime: mime.placeholder }).toString('utf8'));
  const marked = JSON.parse(mime.encode({ recipient: 'b@x', mime: head }).toString('utf8'));
  assert.equal(plain.mime, 'Received: x\r\nSubject: "s"\r\n\r\nbody\r\n');
  assert.equal(marked.mime, 'Authentication-Results: mx; none\r\nReceived: x\r\nSubject: "s"\r\n\r\nbody\r\n');
});
