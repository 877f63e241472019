import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTime } from '@mtaq/envelope';
import { delayBucket, delayBuckets, delayQueue, MIN_DELAY_QUEUE_EXPIRES_MS, parkDelay, STANDARD_DELAYS } from '../../src/outcome/index.js';
import { at, message, T, testConfig } from './helpers.js';

test('delay queue naming and arguments (§7.4)', () => {
  const q = delayQueue('outbox', 600, testConfig());
  assert.equal(q.name, 'outbox.delay.600');
  assert.deepEqual(q.arguments, {
    'x-message-ttl': 600_000,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': 'outbox',
    'x-expires': 1_200_000,
  });
  assert.equal(q.redeclareWithinMs, 600_000);

  const named = delayQueue('out-2', 5, testConfig({ 'rabbitmq-exchange': 'mtaq', 'rabbitmq-maxpriority': '9', 'rabbitmq-lazy': 'true' }));
  assert.equal(named.name, 'out-2.delay.5');
  assert.deepEqual(named.arguments, {
    'x-queue-mode': 'lazy',
    'x-max-priority': 9,
    'x-message-ttl': 5000,
    'x-dead-letter-exchange': 'mtaq',
    'x-dead-letter-routing-key': 'out-2',
    'x-expires': MIN_DELAY_QUEUE_EXPIRES_MS,
  });
  assert.equal(named.redeclareWithinMs, MIN_DELAY_QUEUE_EXPIRES_MS - 5000);
  assert.equal(delayQueue('outbox', 1.2, testConfig()).name, 'outbox.delay.2');
  assert.throws(() => delayQueue('outbox', 0, testConfig()), RangeError);
  // Under quorum (which refuses priorities, in the config already) a retry is dead-lettered at-least-once.
  const quorum = delayQueue('outbox', 60, testConfig({ 'rabbitmq-quorum': 'true' }));
  assert.equal(quorum.arguments['x-queue-type'], 'quorum');
  assert.equal(quorum.arguments['x-dead-letter-strategy'], 'at-least-once');
  assert.equal(quorum.arguments['x-overflow'], 'reject-publish');
  assert.equal('x-max-priority' in quorum.arguments, false);
});

test('parkDelay: nextattempt more than 1 s ahead parks, otherwise attempt now', () => {
  assert.equal(parkDelay(message(), T), undefined);
  assert.equal(parkDelay(message({ nextattempt: { time: formatTime(at(600)) } }), T), 600);
  assert.equal(parkDelay(message({ nextattempt: { time: formatTime(at(600)) } }), new Date(T.getTime() + 250)), 600, 'rounded up');
  assert.equal(parkDelay(message({ nextattempt: { time: formatTime(at(1)) } }), T), undefined, 'exactly 1 s is due');
  assert.equal(parkDelay(message({ nextattempt: { time: formatTime(at(2)) } }), T), 2);
  assert.equal(parkDelay(message({ nextattempt: { time: formatTime(at(-60)) } }), T), undefined, 'past');
  assert.equal(parkDelay(message({ nextattempt: { time: 'tomorrow' } }), T), undefined, 'unparsable');
});

test('parkDelay reads the legacy delayed property (I9); nextattempt wins', () => {
  assert.equal(parkDelay(message({ delayed: formatTime(at(3600)) }), T), 3600);
  assert.equal(parkDelay(message({ delayed: formatTime(at(3600)), nextattempt: { time: formatTime(at(60)) } }), T), 60);
});

test('delay buckets: bounded set, configured intervals exact, near delays rounded up, far ones down', () => {
  const config = testConfig({ 'retry-interval': '90,600,5400' });
  const buckets = delayBuckets(config);
  assert.ok(buckets.includes(90) && buckets.includes(5400));
  for (const s of STANDARD_DELAYS) assert.ok(buckets.includes(s));
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));

  assert.equal(delayBucket(0, config), 0);
  assert.equal(delayBucket(-5, config), 0);
  assert.equal(delayBucket(90, config), 90);
  assert.equal(delayBucket(600, config), 600);
  assert.equal(delayBucket(599.2, config), 600);
  assert.equal(delayBucket(3, config), 2, '5 would be 2 s late');
  assert.equal(delayBucket(4, config), 5, 'within 1 s');
  assert.equal(delayBucket(1700, config), 1800, 'within 10 %');
  assert.equal(delayBucket(650, config), 600, 'the remainder is re-parked');
  assert.equal(delayBucket(10 * 86400, config), 86400, 'capped');

  // Following re-parks to the end never overshoots by more than 10 % and ends in a few hops.
  for (const start of [7, 47, 650, 1234, 7199, 50_000, 200_000]) {
    let left = start;
    let hops = 0;
    while (left > 1) {
      const b = delayBucket(left, config);
      left -= b;
      hops++;
    }
    assert.ok(left >= -Math.max(1, start * 0.1), `${start}: overshoot ${-left}`);
    assert.ok(hops <= 10, `${start}: ${hops} hops`);
  }
});
