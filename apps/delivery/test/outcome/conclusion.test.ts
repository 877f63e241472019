import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conclude, consumedByDelivery, loopingQueue, resultEntry, unusableAddress } from '../../src/outcome/index.js';
import { message, T, testConfig } from './helpers.js';

const config = testConfig({ 'rabbitmq-outbox': 'out', 'rabbitmq-results': 'res', 'rabbitmq-retry': 'rq', 'rabbitmq-dsn': 'out' });

test('a replayed conclusion is the same as the first: built from the recorded entry, not the clock', async () => {
  const msg = message({ dsn: { notify: 'FAILURE,DELAY' }, maxdelivertime: '2024-05-02 10:00:00' });
  const entry = resultEntry({ state: 'rcptto', result: 'error', code: 451, status: '4.7.1', description: 'later' }, T);
  const first = conclude(structuredClone(msg), entry, config, () => 'dsn-1');
  await new Promise((r) => setTimeout(r, 1100));
  const replay = conclude(structuredClone(msg), entry, config, () => 'dsn-1');
  assert.equal(first.decision.kind, 'retry');
  assert.deepEqual(replay, first);
  assert.equal(first.retry?.document.nextattempt?.time, '2024-05-01 10:10:00', 'next attempt counted from the entry time');
  assert.ok(first.bounce, 'a delay bounce');
  assert.equal(first.bounce.queue, 'out', 'bounces may go to the outbox');
});

test('unusable input is never bounced', () => {
  const msg = message({ dsn: { notify: 'FAILURE' } });
  const entry = resultEntry({ state: 'process', result: 'invalid', description: 'bad' }, T);
  const c = conclude(msg, entry, config, () => 'dsn-2');
  assert.equal(c.decision.kind, 'failure');
  assert.equal(c.bounce, undefined);
  assert.deepEqual(c.results.map((p) => p.queue), ['res']);
});

test('result queues that delivery consumes from are loops; the dsn queue is not', () => {
  assert.equal(consumedByDelivery('out', 'out'), true);
  assert.equal(consumedByDelivery('out.delay.600', 'out'), true);
  assert.equal(consumedByDelivery('out.park.x', 'out'), true);
  assert.equal(consumedByDelivery('outbox2', 'out'), false);
  assert.deepEqual(loopingQueue(message({ queues: { success: 'out' } }), config), { kind: 'success', queue: 'out' });
  assert.deepEqual(loopingQueue(message({ queues: { retry: 'out.delay.5' } }), config), { kind: 'retry', queue: 'out.delay.5' });
  assert.equal(loopingQueue(message({ queues: { dsn: 'out' } }), config), undefined);
  assert.equal(loopingQueue(message({ queues: { results: null } }), config), undefined);
});

test('validate-recipient / validate-envelope: strict RFC mailboxes by default, local@domain when loose; <> is a valid envelope', () => {
  const strict = testConfig({});
  const loose = testConfig({ 'validate-recipient': 'loose', 'validate-envelope': 'loose' });
  assert.match(unusableAddress(message({ recipient: 'not an address' }), strict) ?? '', /recipient "not an address" is not a valid address \(validate-recipient: strict\)/);
  assert.match(unusableAddress(message({ recipient: 'not an address' }), loose) ?? '', /validate-recipient: loose/);
  assert.match(unusableAddress(message({ recipient: 'a..b@example.org' }), strict) ?? '', /not a valid address/);
  assert.equal(unusableAddress(message({ recipient: 'a..b@example.org' }), loose), undefined);
  assert.match(unusableAddress(message({ envelope: 'broken@' }), strict) ?? '', /envelope "broken@"/);
  assert.equal(unusableAddress(message({ envelope: '' }), strict), undefined);
  assert.equal(unusableAddress(message(), strict), undefined);
});
