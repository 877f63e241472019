import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTime, type ResultEntry } from '@mtaq/envelope';
import { extract, resultDocument, resultEntry, retryCopy, retryDocument } from '../../src/outcome/index.js';
import { at, message, MIME, T } from './helpers.js';

const entry: ResultEntry = resultEntry({ state: 'rcptto', result: 'error', code: 451, status: '4.7.1', description: 'try later' }, T);

test('extracted: From, To, decoded Subject, headers, envelope and recipient parts', () => {
  const doc = resultDocument(message(), entry);
  assert.deepEqual(doc.extracted, {
    from: 'shop@example.com',
    to: ['info@example.org', 'second@example.org'],
    subject: 'Café order',
    headers: {
      from: '"Shop, Inc." <shop@example.com>',
      to: 'Info <info@example.org>, second@example.org',
      subject: 'Café order',
      'message-id': '<abc@example.com>',
      received: ['from a by b', 'from c by d'],
      'x-long': 'first  continued',
    },
    envelope: { local: 'bounce', domain: 'example.com' },
    recipient: { local: 'info', domain: 'example.org' },
  });
});

test('extracted from the final MIME when given, and without MIME only the addresses', () => {
  const stored = message({ mime: undefined, key: 'store/123' });
  delete stored.mime;
  const plain = resultDocument(stored, entry);
  assert.deepEqual(plain.extracted, { envelope: { local: 'bounce', domain: 'example.com' }, recipient: { local: 'info', domain: 'example.org' } });
  assert.equal(plain.key, 'store/123', 'the store key stays');

  const sent = resultDocument(stored, entry, { mime: Buffer.from('Subject: sent\nTo: a@b.c\n\nbody \u00ff') });
  assert.equal(sent.extracted?.subject, 'sent');
  assert.deepEqual(sent.extracted?.to, ['a@b.c']);
  assert.deepEqual(extract({ envelope: '' }, 'no-colon line\r\nSubject: x\r\n\r\n').headers, { subject: 'x' });
  assert.deepEqual(extract({}, '\r\nSubject: in the body\r\n').headers, {}, 'a message starting with an empty line has no headers');
});

test('results accumulate across attempts, oldest first', () => {
  const first = resultEntry({ state: 'connect', result: 'timeout' }, T);
  const retried = retryDocument(message(), first, at(600));
  const doc = resultDocument(retried, [entry]);
  assert.deepEqual(doc.results, [first, entry]);
  assert.deepEqual(retried.results, [first]);
});

test('retry document: legacy delayed replaced by nextattempt, other nextattempt properties kept', () => {
  const doc = retryDocument(message({ delayed: '2024-05-01 09:00:00', nextattempt: { time: '2024-05-01 09:00:00', note: 'x' } }), entry, at(600));
  assert.equal('delayed' in doc, false);
  assert.deepEqual(doc.nextattempt, { time: formatTime(at(600)), note: 'x' });
  assert.equal(doc.mime, MIME);
  const copy = retryCopy(message({ keepmime: true }), entry, at(600));
  assert.equal(copy.mime, MIME, 'keepmime keeps mime on the retry copy too');
  assert.deepEqual(copy.nextattempt, { time: formatTime(at(600)) });
});

test('the result document keeps every other property in its order, `results` and `extracted` in place, and never touches a prototype', () => {
  const consumed = JSON.parse(
    '{"x-first":1,"results":[{"state":"connect","result":"error","time":"2024-01-01 00:00:00"}],"mime":"Subject: s\\r\\n\\r\\nb","__proto__":{"polluted":true},"recipient":"info@example.org","extracted":"old","last":[2]}',
  ) as Parameters<typeof resultDocument>[0];
  const doc = resultDocument(consumed, entry);
  assert.deepEqual(Object.keys(doc), ['x-first', 'results', '__proto__', 'recipient', 'extracted', 'last']);
  assert.equal(Object.getPrototypeOf(doc), Object.prototype);
  assert.equal((doc as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(doc))['__proto__'], { polluted: true }, 'the property travels as it came');
  assert.equal(doc.results?.length, 2);
  assert.equal(doc.extracted?.subject, 's');
  assert.equal('mime' in doc, false);
  assert.equal(consumed.mime, 'Subject: s\r\n\r\nb', 'the consumed message is not changed');
});
