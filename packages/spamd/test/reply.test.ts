import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_REPLY_BYTES, parseReply, SpamdError } from '../src/index.js';

const reply = (text: string): Buffer => Buffer.from(text, 'latin1');

function protocolError(bytes: Buffer, ended = false): SpamdError {
  try {
    parseReply(bytes, ended);
  } catch (error) {
    assert.ok(error instanceof SpamdError);
    assert.equal(error.kind, 'protocol');
    return error;
  }
  assert.fail('no error');
}

test('a SYMBOLS reply with a negative score, as spamd 4.0 writes it', () => {
  const bytes = reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 23\r\nSpam: False ; -1.0 / 5.0\r\n\r\nALL_TRUSTED,MSGID_SHORT');
  assert.deepEqual(parseReply(bytes), { spam: false, score: -1, required: 5, rules: ['ALL_TRUSTED', 'MSGID_SHORT'] });
});

test('spam, the old Yes/No spelling, no rules at all', () => {
  assert.deepEqual(parseReply(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n')), {
    spam: true,
    score: 1000,
    required: 5,
    rules: [],
  });
  assert.equal(parseReply(reply('SPAMD/1.1 0 EX_OK\r\nspam: Yes ; 7.3 / 5.0\r\ncontent-length: 5\r\n\r\nGTUBE'))?.spam, true);
});

test('every prefix of a good reply waits for more, and the whole settles it', () => {
  const bytes = reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 999.0 / 5.0\r\n\r\nGTUBE');
  for (let n = 0; n < bytes.length; n++) assert.equal(parseReply(bytes.subarray(0, n)), undefined, `prefix ${n}`);
  assert.equal(parseReply(bytes)?.score, 999);
});

test('the same prefixes are errors once the connection has closed', () => {
  const bytes = reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 999.0 / 5.0\r\n\r\nGTUBE');
  for (let n = 0; n < bytes.length; n++) protocolError(bytes.subarray(0, n), true);
});

test('a non-zero result carries its code', () => {
  const error = protocolError(reply('SPAMD/1.0 76 Bad header line: (Content-Length mismatch: Expected 10 bytes, got 9 bytes)\r\n'));
  assert.equal(error.resultCode, 76);
  assert.match(error.message, /76 Bad header line/);
});

test('garbage is refused on its first bytes, before any line end', () => {
  protocolError(reply('HTTP/1.1 400'));
  protocolError(reply('+OK POP3'));
  protocolError(reply('SPAMD/x 0 EX_OK\r\n'));
  protocolError(reply('SPAMD/1.1 zero EX_OK\r\n'));
});

test('missing or broken headers, wrong body length and junk rule names are refused', () => {
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1.0 / 5.0\r\n\r\n'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\nSpam: True ; 1.0 / 5.0\r\n\r\n'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: maybe\r\n\r\n'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nno colon here\r\n\r\n'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 2\r\nSpam: True ; 1.0 / 5.0\r\n\r\nABC'));
  protocolError(reply('SPAMD/1.1 0 EX_OK\r\nContent-length: 7\r\nSpam: True ; 1.0 / 5.0\r\n\r\nA B,C\r\n'));
});

test('a reply longer than any SYMBOLS answer is refused before it is complete', () => {
  protocolError(Buffer.concat([reply('SPAMD/1.1 0 EX_OK\r\n'), Buffer.alloc(MAX_REPLY_BYTES, 'A')]));
});
