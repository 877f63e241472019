/** Conformance cases C38–C45, C53, C55 of the reference, on the pure decision layer. */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTime, type OutgoingMessage } from '@mtaq/envelope';
import {
  buildDsn,
  decide,
  delayBucket,
  delayQueue,
  expiredOutcome,
  expiry,
  firstPickup,
  isExpired,
  publishPriority,
  resultDocument,
  resultEntry,
  retryCopy,
  retryDelay,
  retryDocument,
  targets,
} from '../../src/outcome/index.js';
import { at, message, MIME, splitMultipart, statusGroups, T, testConfig } from './helpers.js';

const QUEUES = {
  'rabbitmq-results': 'results',
  'rabbitmq-success': 'success',
  'rabbitmq-failure': 'failure',
  'rabbitmq-retry': 'retry',
};

test('C38 accepted after the dot: results + success, mime stripped unless keepmime, custom properties kept', () => {
  const config = testConfig(QUEUES);
  const msg = message();
  const entry = resultEntry(
    { state: 'message', result: 'accepted', code: 250, description: 'OK queued as 123', from: '10.0.0.5', to: '192.0.2.25', mta: 'mx.example.org', messages: 1, sent: { connection: 900, data: 640 }, dsn: false },
    T,
  );
  assert.deepEqual(decide(msg, entry, T, config), { kind: 'success' });
  assert.deepEqual(targets(msg, 'success', config), ['results', 'success']);

  const doc = resultDocument(msg, entry);
  assert.equal('mime' in doc, false);
  assert.equal(doc['my-ref'], 'order-991');
  assert.equal(doc.recipient, 'info@example.org');
  assert.equal(doc.results.length, 1);
  const last = doc.results.at(-1);
  assert.deepEqual(last, {
    state: 'message',
    result: 'accepted',
    time: '2024-05-01 10:00:00',
    code: 250,
    status: '2.0.0', // synthesised per RFC 3463, not MailerQ's 2.5.0 (I12)
    description: 'OK queued as 123',
    mta: 'mx.example.org',
    from: '10.0.0.5',
    to: '192.0.2.25',
    messages: 1,
    sent: { connection: 900, data: 640 },
    dsn: false,
  });
  assert.equal(msg.mime, MIME, 'the consumed message is not modified');

  const kept = resultDocument(message({ keepmime: true }), entry);
  assert.equal(kept.mime, MIME);
  assert.equal(kept.keepmime, true);
});

test('C39 451 at RCPT, no retries: retry copy without mime, outbox copy with mime and nextattempt T+600', () => {
  const config = testConfig(QUEUES);
  const consumed = message();
  const maxdelivertime = firstPickup(consumed, T, config);
  assert.equal(maxdelivertime, '2024-05-02 10:00:00');
  const msg: OutgoingMessage = { ...consumed, maxdelivertime: maxdelivertime as string };

  const entry = resultEntry({ state: 'rcptto', result: 'error', code: 451, status: '4.7.1', description: 'try later' }, T);
  assert.deepEqual(entry, { state: 'rcptto', result: 'error', time: '2024-05-01 10:00:00', code: 451, status: '4.7.1', description: 'try later' });

  const decision = decide(msg, entry, T, config);
  assert.deepEqual(decision, { kind: 'retry', nextAttempt: at(600), delaySeconds: 600 });
  if (decision.kind !== 'retry') return;

  assert.deepEqual(targets(msg, 'retry', config), ['retry']);
  const copy = retryCopy(msg, entry, decision.nextAttempt);
  assert.equal('mime' in copy, false);
  assert.deepEqual(copy.results, [entry]);

  const outbox = retryDocument(msg, entry, decision.nextAttempt);
  assert.equal(outbox.mime, MIME);
  assert.deepEqual(outbox.nextattempt, { time: formatTime(at(600)) });
  assert.equal(outbox.nextattempt.time, '2024-05-01 10:10:00');
  assert.equal(outbox.maxdelivertime, '2024-05-02 10:00:00');
  assert.deepEqual(outbox.results, [entry]);
  assert.equal(outbox['my-ref'], 'order-991');

  const bucket = delayBucket(decision.delaySeconds, config);
  assert.equal(bucket, 600);
  assert.equal(delayQueue(config['rabbitmq-outbox'], bucket, config).name, 'outbox.delay.600');
});

test('C40 retries [60,120]: delays before attempts 2, 3, 4 are 60, 120, 120', () => {
  const config = testConfig();
  const msg = message({ retries: [60, 120] });
  assert.deepEqual([1, 2, 3].map((n) => retryDelay(msg, n, config)), [60, 120, 120]);
  // decide counts the attempt being decided: with one earlier entry this is attempt 2 → 120 s.
  const earlier = resultEntry({ state: 'rcptto', result: 'error', code: 451 }, T);
  const second = resultEntry({ state: 'rcptto', result: 'error', code: 451 }, at(60));
  const decision = decide({ ...msg, maxdelivertime: '2024-05-02 10:00:00', results: [earlier] }, second, at(60), config);
  assert.deepEqual(decision, { kind: 'retry', nextAttempt: at(180), delaySeconds: 120 });
  // Without retries: the configured sequence, last element repeating (I7).
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => retryDelay(message(), n, config)), [600, 600, 1800, 1800, 3600, 3600, 7200, 7200, 7200]);
});

test('C41 550 5.1.1: final failure on results and failure, no retry, one entry', () => {
  const config = testConfig(QUEUES);
  const msg = message({ maxdelivertime: '2024-05-02 10:00:00' });
  const entry = resultEntry({ state: 'rcptto', result: 'error', code: 550, status: '5.1.1', description: 'no such user' }, T);
  assert.deepEqual(decide(msg, entry, T, config), { kind: 'failure', reason: 'fatal' });
  assert.deepEqual(targets(msg, 'failure', config), ['results', 'failure']);
  const doc = resultDocument(msg, entry);
  assert.equal(doc.results.length, 1);
  assert.equal(doc.results[0]?.status, '5.1.1');
});

test('C42 maxattempts 2, both 421: final failure after attempt 2 with the 421 last', () => {
  const config = testConfig(QUEUES);
  const msg = message({ maxattempts: 2, maxdelivertime: '2024-05-02 10:00:00' });
  const first = resultEntry({ state: 'intro', result: 'error', code: 421, description: 'busy' }, T);
  const d1 = decide(msg, first, T, config);
  assert.equal(d1.kind, 'retry');
  if (d1.kind !== 'retry') return;
  const retried = retryDocument(msg, first, d1.nextAttempt);

  assert.equal(isExpired(retried, retried.results.length, d1.nextAttempt, config), false);
  const second = resultEntry({ state: 'intro', result: 'error', code: 421, description: 'busy' }, d1.nextAttempt);
  assert.deepEqual(decide(retried, second, d1.nextAttempt, config), { kind: 'failure', reason: 'attempts' });
  const doc = resultDocument(retried, second);
  assert.equal(doc.results.length, 2);
  assert.equal(doc.results.at(-1)?.code, 421);
  // Had it been republished anyway, the consume-time check stops a third attempt.
  const two = { ...retried, results: doc.results };
  assert.equal(expiry(two, 2, at(10_000), config), 'attempts');
  // The config cap applies when the message has none; the message's own cap wins.
  assert.equal(expiry(message(), 3, T, testConfig({ 'max-attempts': '3' })), 'attempts');
  assert.equal(expiry(message({ maxattempts: 5 }), 3, T, testConfig({ 'max-attempts': '3' })), undefined);
});

test('C43 maxdelivertime in the past: process/timeout entry, failure queue, no attempt', () => {
  const config = testConfig(QUEUES);
  const msg = message({ maxdelivertime: '2024-05-01 09:59:59' });
  assert.equal(firstPickup(msg, T, config), undefined, 'an existing limit is kept');
  assert.equal(expiry(msg, 0, T, config), 'time');
  assert.equal(isExpired(msg, 0, T, config), true);
  const entry = resultEntry(expiredOutcome(), T);
  assert.deepEqual(entry, { state: 'process', result: 'timeout', time: '2024-05-01 10:00:00', status: '5.4.7' });
  assert.equal('code' in entry, false, 'no reply code is invented without a connection');
  assert.deepEqual(decide(msg, entry, T, config), { kind: 'failure', reason: 'expired' });
  assert.deepEqual(targets(msg, 'failure', config), ['results', 'failure']);
  // The limit itself is still inside the window (now > maxdelivertime expires).
  assert.equal(expiry(msg, 0, new Date(Date.parse('2024-05-01T09:59:59Z')), config), undefined);
});

test('C44 maxdelivertime 5 min ahead, 4xx, next delay 600 s: final failure at once', () => {
  const config = testConfig(QUEUES);
  const msg = message({ maxdelivertime: formatTime(at(300)) });
  const entry = resultEntry({ state: 'data', result: 'error', code: 452, status: '4.3.1', description: 'disk full' }, T);
  assert.deepEqual(decide(msg, entry, T, config), { kind: 'failure', reason: 'expired' });
  // A retry landing exactly on the limit is still made.
  const edge = message({ maxdelivertime: formatTime(at(600)) });
  assert.equal(decide(edge, entry, T, config).kind, 'retry');
});

test('C45 queues {results:null, success:null, failure:"f42"}: per-kind targets', () => {
  const config = testConfig(QUEUES);
  const msg = message({ queues: { results: null, success: null, failure: 'f42' } });
  assert.deepEqual(targets(msg, 'success', config), []);
  assert.deepEqual(targets(msg, 'failure', config), ['f42']);
  assert.deepEqual(targets(msg, 'retry', config), ['retry']);
  // Empty config queues mean "none"; duplicates collapse to one publish.
  assert.deepEqual(targets(message(), 'success', testConfig()), []);
  assert.deepEqual(targets(message(), 'failure', testConfig({ 'rabbitmq-results': 'all', 'rabbitmq-failure': 'all' })), ['all']);
  assert.deepEqual(targets(message({ queues: { retry: '' } }), 'retry', config), []);
});

test('C53 DSN on 550 5.1.1 with notify FAILURE and rabbitmq-dsn set; none without dsn queue or envelope', () => {
  const config = testConfig({ ...QUEUES, 'rabbitmq-dsn': 'dsnq', 'smtp-hostname': 'mx1.ours.test' });
  const msg = message({ dsn: { notify: 'FAILURE' }, maxdelivertime: '2024-05-02 10:00:00' });
  const entry = resultEntry({ state: 'rcptto', result: 'error', code: 550, status: '5.1.1', description: 'no such user', mta: 'mx.example.org', to: '192.0.2.25' }, T);
  assert.deepEqual(decide(msg, entry, T, config), { kind: 'failure', reason: 'fatal' });
  assert.deepEqual(targets(msg, 'dsn', config), ['dsnq']);

  const bounce = buildDsn(msg, entry, 'failure', config, { now: T, messageId: 'b0unce1' });
  assert.ok(bounce !== undefined);
  assert.equal(bounce.envelope, '');
  assert.equal(bounce.recipient, 'bounce@example.com');
  assert.equal(typeof bounce.mime, 'string');
  const mime = bounce.mime as string;
  assert.doesNotMatch(mime, /[^\r]\n/, 'CRLF line endings only');

  const { top, parts } = splitMultipart(mime);
  assert.match(top.headers.get('content-type') ?? '', /^multipart\/report; report-type=delivery-status;/);
  assert.equal(top.headers.get('from'), 'Mail Delivery System <MAILER-DAEMON@mx1.ours.test>');
  assert.equal(top.headers.get('to'), '<bounce@example.com>');
  assert.equal(top.headers.get('auto-submitted'), 'auto-replied');
  assert.equal(top.headers.get('message-id'), '<b0unce1@mx1.ours.test>');
  assert.equal(top.headers.get('date'), 'Wed, 01 May 2024 10:00:00 +0000');
  assert.equal(parts.length, 3);

  const [human, report, returned] = parts;
  assert.match(human?.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(human?.body ?? '', /info@example\.org/);
  assert.match(human?.body ?? '', /550 5\.1\.1 no such user/);

  assert.equal(report?.headers.get('content-type'), 'message/delivery-status');
  const [perMessage, perRecipient] = statusGroups(report?.body ?? '');
  assert.equal(perMessage?.get('reporting-mta'), 'dns; mx1.ours.test');
  assert.equal(perRecipient?.get('original-recipient'), 'rfc822;info@example.org');
  assert.equal(perRecipient?.get('final-recipient'), 'rfc822;info@example.org');
  assert.equal(perRecipient?.get('action'), 'failed');
  assert.equal(perRecipient?.get('status'), '5.1.1');
  assert.equal(perRecipient?.get('remote-mta'), 'dns; mx.example.org');
  assert.equal(perRecipient?.get('diagnostic-code'), 'smtp; 550 no such user');
  assert.equal(perRecipient?.get('last-attempt-date'), 'Wed, 01 May 2024 10:00:00 +0000');

  // dsn-ret defaults to HDRS: headers only.
  assert.equal(returned?.headers.get('content-type'), 'text/rfc822-headers');
  assert.match(returned?.body ?? '', /^From: "Shop, Inc." <shop@example.com>\r\n/);
  assert.doesNotMatch(returned?.body ?? '', /Hello there/);

  assert.equal(buildDsn(msg, entry, 'failure', testConfig(QUEUES), { now: T, messageId: 'x' }), undefined, 'empty rabbitmq-dsn: no bounces (I8)');
  assert.equal(buildDsn({ ...msg, envelope: '' }, entry, 'failure', config, { now: T, messageId: 'x' }), undefined, 'null sender');
  assert.equal(buildDsn({ ...msg, queues: { dsn: null } }, entry, 'failure', config, { now: T, messageId: 'x' }), undefined);
  assert.equal(buildDsn(message(), entry, 'failure', config, { now: T, messageId: 'x' }), undefined, 'dsn-notify defaults to NEVER');
  assert.notEqual(buildDsn(message({ queues: { dsn: 'own' } }), entry, 'failure', testConfig({ 'dsn-notify': 'FAILURE' }), { now: T, messageId: 'x' }), undefined);
});

test('C55 rabbitmq-maxpriority 4, priority 3: delay queues declared with x-max-priority 4, copies carry 3', () => {
  const config = testConfig({ 'rabbitmq-maxpriority': '4' });
  assert.equal(delayQueue('outbox', 600, config).arguments['x-max-priority'], 4);
  assert.equal(publishPriority(message({ priority: 3 }), config), 3);
  assert.equal(publishPriority(message({ priority: 9 }), config), 4);
  assert.equal(publishPriority(message(), config), undefined);
  assert.equal(publishPriority(message({ priority: 3 }), testConfig()), undefined);
  assert.equal('x-max-priority' in delayQueue('outbox', 600, testConfig()).arguments, false);
});
