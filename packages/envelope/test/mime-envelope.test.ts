import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelopeFromMime, parseAddressList, recipientsFromMime } from '../src/index.js';

const mime = (...headers: string[]): Buffer => Buffer.from(`${headers.join('\r\n')}\r\n\r\nFrom: body@example.com\r\n`);

test('C36 Return-Path wins over From; one recipient per To/Cc/Bcc address', () => {
  const m = mime('From: a@x.com', 'Return-Path: <b@x.com>', 'To: One <one@y.org>, two@y.org', 'Cc: "Three, 3" <three@y.org>', 'Bcc: four@y.org');
  assert.equal(envelopeFromMime(m), 'b@x.com');
  assert.deepEqual(recipientsFromMime(m), ['one@y.org', 'two@y.org', 'three@y.org', 'four@y.org']);
});

test('I5 order: x-mq-envelope, Return-Path, From, Sender', () => {
  assert.equal(envelopeFromMime(mime('Sender: s@x.com', 'From: f@x.com', 'Return-Path: <r@x.com>', 'X-MQ-Envelope: e@x.com')), 'e@x.com');
  assert.equal(envelopeFromMime(mime('Sender: s@x.com', 'From: f@x.com', 'Return-Path: <>')), 'f@x.com');
  assert.equal(envelopeFromMime(mime('Sender: s@x.com', 'From: undisclosed')), 's@x.com');
  assert.equal(envelopeFromMime(mime('Subject: none')), undefined);
  assert.equal(envelopeFromMime(mime('From: =?UTF-8?Q?M=C3=BCller=2C_A?= <mueller@x.com>')), 'mueller@x.com');
});

test('recipients: groups, comments, folding and duplicates', () => {
  const m = mime('To: team: a@y.org,', '  b@y.org (Bee);, undisclosed-recipients:;', 'Cc: A@Y.ORG', 'Bcc: not an address');
  assert.deepEqual(recipientsFromMime(m), ['a@y.org', 'b@y.org']);
});

test('address list parsing', () => {
  assert.deepEqual(parseAddressList('"Smith, John" <john@x.com>, jane@x.com (Jane <j@z>)'), ['john@x.com', 'jane@x.com']);
  assert.deepEqual(parseAddressList('<@relay.x:user@x.com>'), ['user@x.com']);
  assert.deepEqual(parseAddressList('"odd local"@x.com, user@[192.0.2.1]'), ['"odd local"@x.com', 'user@[192.0.2.1]']);
  assert.deepEqual(parseAddressList('no-at-sign, @x.com, a@, a@-bad-.com'), []);
});
