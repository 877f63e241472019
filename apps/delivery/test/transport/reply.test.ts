import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseReply } from '../../src/transport/reply.js';

describe('parseReply', () => {
  test('one-line replies: code, enhanced status, text', () => {
    assert.deepEqual(parseReply('250 2.0.0 Ok: queued as 4Xy'), { code: 250, status: '2.0.0', description: 'Ok: queued as 4Xy' });
    assert.deepEqual(parseReply('250 Ok'), { code: 250, description: 'Ok' });
    assert.deepEqual(parseReply('250'), { code: 250, description: '' });
    assert.deepEqual(parseReply('550-5.1.1 gone'), { code: 550, status: '5.1.1', description: 'gone' });
    assert.deepEqual(parseReply('250 2.0.0'), { code: 250, status: '2.0.0', description: '' });
    assert.deepEqual(parseReply('250 6.0.0 not a status'), { code: 250, description: '6.0.0 not a status' });
    assert.deepEqual(parseReply('  connection closed  '), { description: 'connection closed' });
    assert.deepEqual(parseReply(''), { description: '' });
    assert.deepEqual(parseReply(undefined), { description: '' });
  });

  test('one line ending in CRLF and multi-line replies read the same way', () => {
    assert.deepEqual(parseReply('250 2.0.0 Ok\r\n'), parseReply('250 2.0.0 Ok'));
    assert.deepEqual(parseReply('451-4.7.1 try\r\n451 4.7.1 later'), { code: 451, status: '4.7.1', description: 'try later' });
    assert.deepEqual(parseReply('554-first\n554 5.7.1 second'), { code: 554, status: '5.7.1', description: 'first second' });
    assert.deepEqual(parseReply('no code\r\nat all'), { description: 'no code at all' });
  });
});
