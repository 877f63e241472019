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
  for (const [parts, latin1, text] of cases) {
    const mime = new MimeJson(parts, latin1);
    const doc = { 'message-id': 'a', recipient: 'b@x', mime: mime.placeholder, after: 1 };
    assert.equal(mime.encode(doc).toString('utf8'), JSON.stringify({ ...doc, mime: text }));
    assert.deepEqual(JSON.parse(mime.encode(doc).toString('utf8')).mime, text);
  }
});
