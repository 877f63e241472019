import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractMqHeaders, parseIncoming, parseOutgoing } from '../src/index.js';

const BODY = 'Hello,\r\n\r\nX-MQ-Tag: in-the-body\r\nx-mq-ip: 1.2.3.4\r\n-- \r\nBye\r\n';

/** A message with the given extra header lines between ordinary ones, CRLF endings. */
function message(extra: string[], body = BODY): Buffer {
  return Buffer.from(
    [
      'Received: from a.example ([192.0.2.1])',
      '\tby b.example; Thu, 21 Nov 2024 10:00:00 +0000',
      'From: Alice <alice@example.com>',
      ...extra,
      'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=',
      'to:   bob@example.org',
      '',
      '',
    ].join('\r\n') + body,
  );
}

const C29_HEADERS = [
  'X-MQ-IP: 10.20.30.40',
  'x-mq-maxdelivertime: 2031-06-30 12:00:00',
  'x-mq-inlinecss: 1',
  'x-mq-campaign-ref: spring-7',
];

test('C29 ip, maxdelivertime, inlinecss and a custom property; every other byte kept', () => {
  const input = message(C29_HEADERS);
  const { mime, properties, warnings } = extractMqHeaders(input);
  assert.deepEqual(properties, {
    ips: ['10.20.30.40'],
    maxdelivertime: '2031-06-30 12:00:00',
    inlinecss: true,
    'campaign-ref': 'spring-7',
  });
  assert.deepEqual(warnings, []);
  assert.ok(mime.equals(message([])));
  assert.ok(!/x-mq-(ip|maxdelivertime|inlinecss|campaign-ref)/i.test(mime.toString('latin1').split('\r\n\r\n')[0] ?? ''));
});

test('C30 repeated x-mq-tag keeps order across header-name case', () => {
  const { mime, properties } = extractMqHeaders(message(['x-mq-tag: A', 'X-MQ-Tag: B']));
  assert.deepEqual(properties, { tags: ['A', 'B'] });
  assert.ok(mime.equals(message([])));
});

test('C31 retries and maxattempts become numbers', () => {
  const { properties } = extractMqHeaders(message(['x-mq-retries: 300,600,3600', 'x-mq-maxattempts: 3']));
  assert.deepEqual(properties, { retries: [300, 600, 3600], maxattempts: 3 });
});

test('C32 smarthost hostname and integer port', () => {
  const { properties } = extractMqHeaders(message(['x-mq-smarthost-hostname: relay.test', 'x-mq-smarthost-port: 2525']));
  assert.deepEqual(properties, { smarthost: { hostname: 'relay.test', port: 2525 } });
  // 3.x/4.0 spelling, plus credentials.
  const legacy = extractMqHeaders(message(['x-mq-smarthost-name: old.test', 'x-mq-smarthost-username: u', 'x-mq-smarthost-password: p']));
  assert.deepEqual(legacy.properties, { smarthost: { hostname: 'old.test', username: 'u', password: 'p' } });
});

test('C33 one result-queue header nulls the other kinds (I6)', () => {
  const { properties } = extractMqHeaders(message(['x-mq-failure-queue: f1']));
  assert.deepEqual(properties, { queues: { failure: 'f1', results: null, success: null, retry: null } });
});

test('C34 dsn notify and ret are upper-cased', () => {
  const { properties } = extractMqHeaders(message(['x-mq-dsn-notify: failure', 'x-mq-dsn-ret: hdrs']));
  assert.deepEqual(properties, { dsn: { notify: 'FAILURE', ret: 'HDRS' } });
});

test('C35 without extraction the x-mq headers stay in mime and derive nothing', () => {
  // smtp-extract=false means ingress never calls extractMqHeaders; the document it builds from the
  // raw message must then carry the headers verbatim and none of the derived properties.
  const raw = message(C29_HEADERS);
  const doc = parseIncoming({
    received: '2024-05-01 10:00:00',
    hostname: 'mx1',
    envelope: 'alice@example.com',
    recipient: 'bob@example.org',
    mime: raw.toString('utf8'),
    cli: {},
  });
  assert.equal(doc.mime, raw.toString('utf8'));
  for (const key of ['ips', 'maxdelivertime', 'inlinecss', 'campaign-ref']) assert.equal(doc[key], undefined);
});

test('C37 x-mq-delayed becomes nextattempt.time', () => {
  const { properties } = extractMqHeaders(message(['x-mq-delayed: 2030-01-01 00:00:00']));
  assert.deepEqual(properties, { nextattempt: { time: '2030-01-01 00:00:00' } });
});

test('folded x-mq headers are removed with all their continuation lines', () => {
  const input = message(['X-Mq-Tag: first', ' part', '\tand more', 'X-Keep: folded', ' keep this', 'x-mq-envelope:', '  "Bounce, Handler" <bounces@example.com>']);
  const { mime, properties } = extractMqHeaders(input);
  assert.deepEqual(properties, { tags: ['first part\tand more'], envelope: 'bounces@example.com' });
  assert.ok(mime.equals(message(['X-Keep: folded', ' keep this'])));
});

test('RFC 2047 encoded x-mq-tag values are decoded', () => {
  const { properties } = extractMqHeaders(message(['x-mq-tag: =?UTF-8?Q?Fr=C3=BChling?=', 'x-mq-tag: =?utf-8?B?8J+MuA==?=']));
  assert.deepEqual(properties, { tags: ['Frühling', '🌸'] });
});

test('bare-LF input keeps its line endings', () => {
  const lf = (extra: string[]): Buffer =>
    Buffer.from(['From: a@example.com', ...extra, 'Subject: hi', '', 'x-mq-tag: body', ''].join('\n'));
  const { mime, properties } = extractMqHeaders(lf(['x-mq-pool: bulk', 'X-MQ-Tag: a', '  b']));
  assert.deepEqual(properties, { pool: 'bulk', tags: ['a  b'] });
  assert.ok(mime.equals(lf([])));
});

test('no x-mq header returns the very same Buffer', () => {
  const input = message(['X-Mailer: test', 'X-MQX: not ours']);
  const result = extractMqHeaders(input);
  assert.equal(result.mime, input);
  assert.deepEqual(result.properties, {});
  assert.deepEqual(result.warnings, []);
});

test('x-mq lines in the body are not touched', () => {
  const input = message(['x-mq-pool: bulk']);
  const { mime } = extractMqHeaders(input);
  assert.ok(mime.toString('utf8').endsWith(BODY));
  // Only the body has them: the original Buffer comes back.
  const bodyOnly = message([]);
  assert.equal(extractMqHeaders(bodyOnly).mime, bodyOnly);
});

test('header-only message without a body and without a final newline', () => {
  const input = Buffer.from('From: a@example.com\r\nx-mq-pool: bulk');
  const { mime, properties } = extractMqHeaders(input);
  assert.deepEqual(properties, { pool: 'bulk' });
  assert.equal(mime.toString(), 'From: a@example.com\r\n');
});

test('unparsable values are removed, skipped and reported, never thrown', () => {
  const { mime, properties, warnings } = extractMqHeaders(
    message([
      'x-mq-maxattempts: abc',
      'x-mq-maxdelivertime: 2031-06-30T12:00:00Z',
      'x-mq-delayed: soon',
      'x-mq-retries: 300,x',
      'x-mq-ip: mail01',
      'x-mq-smarthost-port: 99999',
      'x-mq-dsn-notify: sometimes',
      'x-mq-recipient: evil@example.net',
      'x-mq-: nothing',
      'x-mq-campaign: first',
      'x-mq-campaign: second',
      'x-mq-maxattempts: 4',
    ]),
  );
  assert.deepEqual(properties, { campaign: 'first', maxattempts: 4 });
  assert.equal(warnings.length, 10);
  assert.match(warnings[0] ?? '', /^x-mq-maxattempts: "abc": /);
  assert.ok(mime.equals(message([])));
  // Whatever the headers held, the result merges into a valid document.
  assert.ok(parseOutgoing({ recipient: 'b@x', mime: mime.toString(), ...properties }));
});

test('other conversions: ips split on commas, booleans, envelope, custom names lower-cased', () => {
  const { properties, warnings } = extractMqHeaders(
    message([
      'x-mq-ip: 10.0.0.1, 10.0.0.2',
      'x-mq-ip: 2001:db8::1',
      'x-mq-keepmime: no',
      'x-mq-force: YES',
      'x-mq-priority: 3',
      'x-mq-envelope: <>',
      'X-MQ-Campaign-Ref:   spaced out   ',
      'x-mq-dsn-orcpt: rfc822;b@y',
      'x-mq-dsn-envid: q1',
    ]),
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(properties, {
    ips: ['10.0.0.1', '10.0.0.2', '2001:db8::1'],
    keepmime: false,
    force: true,
    priority: 3,
    envelope: '',
    'campaign-ref': 'spaced out',
    dsn: { orcpt: 'rfc822;b@y', envid: 'q1' },
  });
});

test('smarthost without a host name is dropped with a warning', () => {
  const { properties, warnings } = extractMqHeaders(message(['x-mq-smarthost-port: 2525']));
  assert.deepEqual(properties, {});
  assert.equal(warnings.length, 1);
});
