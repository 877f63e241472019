import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDsn, localFailure, resultEntry } from '../../src/outcome/index.js';
import { BindError, DnsError } from '../../src/routing/index.js';
import { message, MIME, splitMultipart, statusGroups, T, testConfig } from './helpers.js';

const config = testConfig({ 'rabbitmq-dsn': 'dsnq', 'smtp-hostname': 'mx1.ours.test' });
const failed = resultEntry({ state: 'rcptto', result: 'error', code: 550, status: '5.1.1', description: 'no such user', mta: 'mx.example.org' }, T);

test('DSN with RET=FULL returns the whole message; ENVID, ORCPT and Arrival-Date reported', () => {
  const msg = message({ dsn: { notify: 'FAILURE,DELAY', ret: 'FULL', envid: 'q1', orcpt: 'rfc822;Info@Example.org' }, received: '2024-05-01 09:30:00' });
  const bounce = buildDsn(msg, failed, 'failure', config, { now: T, messageId: 'id@elsewhere.test' });
  assert.ok(bounce !== undefined);
  const { top, parts } = splitMultipart(bounce.mime as string);
  assert.equal(top.headers.get('message-id'), '<id@elsewhere.test>');
  const [perMessage, perRecipient] = statusGroups(parts[1]?.body ?? '');
  assert.equal(perMessage?.get('original-envelope-id'), 'q1');
  assert.equal(perMessage?.get('arrival-date'), 'Wed, 01 May 2024 09:30:00 +0000');
  assert.equal(perRecipient?.get('original-recipient'), 'rfc822;Info@Example.org');
  assert.equal(parts[2]?.headers.get('content-type'), 'message/rfc822');
  assert.equal(parts[2]?.body, MIME);
});

test('expiry bounce: process/timeout without code has a synthesised status and no Diagnostic-Code', () => {
  const msg = message({ dsn: { notify: 'FAILURE' } });
  const expired = resultEntry({ state: 'process', result: 'timeout' }, T);
  const bounce = buildDsn(msg, expired, 'failure', config, { now: T, messageId: 'x1' });
  assert.ok(bounce !== undefined);
  const { parts } = splitMultipart(bounce.mime as string);
  const perRecipient = statusGroups(parts[1]?.body ?? '')[1];
  assert.equal(perRecipient?.get('status'), '5.4.7');
  assert.equal(perRecipient?.has('diagnostic-code'), false);
  assert.equal(perRecipient?.has('remote-mta'), false);
  assert.match(parts[0]?.body ?? '', /time or attempt limit/);
});

test('DELAY is reported once, on the first transient failure, with Will-Retry-Until', () => {
  const msg = message({ dsn: { notify: 'DELAY' }, maxdelivertime: '2024-05-02 10:00:00' });
  const transient = resultEntry({ state: 'rcptto', result: 'error', code: 451, status: '4.7.1', description: 'try later' }, T);
  const bounce = buildDsn(msg, transient, 'delay', config, { now: T, messageId: 'd1' });
  assert.ok(bounce !== undefined);
  const { top, parts } = splitMultipart(bounce.mime as string);
  assert.equal(top.headers.get('subject'), 'Delivery Status Notification (Delay)');
  const perRecipient = statusGroups(parts[1]?.body ?? '')[1];
  assert.equal(perRecipient?.get('action'), 'delayed');
  assert.equal(perRecipient?.get('status'), '4.7.1');
  assert.equal(perRecipient?.get('will-retry-until'), 'Thu, 02 May 2024 10:00:00 +0000');
  assert.equal(buildDsn({ ...msg, results: [transient] }, transient, 'delay', config, { now: T, messageId: 'd2' }), undefined);
  assert.equal(buildDsn(msg, transient, 'failure', config, { now: T, messageId: 'd3' }), undefined, 'FAILURE not requested');
});

test('SUCCESS: relayed report unless the remote took over DSN', () => {
  const msg = message({ dsn: { notify: 'SUCCESS,FAILURE' } });
  const accepted = resultEntry({ state: 'message', result: 'accepted', code: 250, mta: 'mx.example.org', dsn: false }, T);
  const bounce = buildDsn(msg, accepted, 'success', config, { now: T, messageId: 's1' });
  assert.ok(bounce !== undefined);
  const perRecipient = statusGroups(splitMultipart(bounce.mime as string).parts[1]?.body ?? '')[1];
  assert.equal(perRecipient?.get('action'), 'relayed');
  assert.equal(perRecipient?.get('status'), '2.0.0');
  assert.equal(buildDsn(msg, { ...accepted, dsn: true }, 'success', config, { now: T, messageId: 's2' }), undefined);
});

test('a key-only message gets a two-part report; non-ASCII text is base64; NEVER disables', () => {
  const stored = message({ dsn: { notify: 'FAILURE' }, key: 'k1' });
  delete stored.mime;
  const odd = resultEntry({ state: 'rcptto', result: 'error', code: 550, description: 'Empfänger unbekannt' }, T);
  const bounce = buildDsn(stored, odd, 'failure', config, { now: T, messageId: 'k' });
  assert.ok(bounce !== undefined);
  const { parts } = splitMultipart(bounce.mime as string);
  assert.equal(parts.length, 2);
  assert.equal(parts[0]?.headers.get('content-transfer-encoding'), 'base64');
  assert.match(Buffer.from(parts[0]?.body ?? '', 'base64').toString('utf8'), /550 5\.0\.0 Empfänger unbekannt/);
  assert.equal(buildDsn(message({ dsn: { notify: 'NEVER' } }), failed, 'failure', testConfig({ 'rabbitmq-dsn': 'dsnq', 'dsn-notify': 'FAILURE' }), { now: T, messageId: 'n' }), undefined);
  // Without dsn.notify the config default applies.
  assert.notEqual(buildDsn(message(), failed, 'failure', testConfig({ 'rabbitmq-dsn': 'dsnq', 'dsn-notify': 'FAILURE' }), { now: T, messageId: 'n' }), undefined);
});

test('a long reply is folded and still parses back', () => {
  const long = resultEntry({ state: 'rcptto', result: 'error', code: 550, status: '5.7.1', description: 'word '.repeat(60).trim() }, T);
  const bounce = buildDsn(message({ dsn: { notify: 'FAILURE' } }), long, 'failure', config, { now: T, messageId: 'l' });
  const mime = bounce?.mime as string;
  for (const line of mime.split('\r\n')) assert.ok(line.length <= 998);
  const perRecipient = statusGroups(splitMultipart(mime).parts[1]?.body ?? '')[1];
  assert.equal(perRecipient?.get('diagnostic-code')?.replace(/\s+/g, ' '), `smtp; 550 ${'word '.repeat(60).trim()}`);
});

test('local failures (DNS, source address) bounce with their own reason, never as a server reply', () => {
  const msg = message({ dsn: { notify: 'FAILURE' } });
  const failures = [
    localFailure(new DnsError('no MX or A records for example.org', { domain: 'example.org', transient: false }), false),
    localFailure(new BindError('none of the ips 10.9.9.9 is a local address', ['10.9.9.9']), false),
  ];
  for (const outcome of failures) {
    const entry = resultEntry(outcome, T);
    assert.equal(entry.code, undefined, `${entry.state}: no reply code is invented`);
    const bounce = buildDsn(msg, entry, 'failure', config, { now: T, messageId: 'l1' });
    assert.ok(bounce !== undefined);
    const { parts } = splitMultipart(bounce.mime as string);
    const perRecipient = statusGroups(parts[1]?.body ?? '')[1];
    assert.equal(perRecipient?.get('status'), outcome.status);
    assert.equal(perRecipient?.has('diagnostic-code'), false, `${entry.state}: no Diagnostic-Code without a remote reply`);
    assert.equal(perRecipient?.has('remote-mta'), false);
    assert.doesNotMatch(parts[0]?.body ?? '', /answered/);
    assert.match(parts[0]?.body ?? '', new RegExp(outcome.description!.split(' ')[0]!));
  }
});
