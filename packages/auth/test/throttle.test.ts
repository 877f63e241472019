import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../src/index.js';

test('blocks after maxFailures within the window; the window slides; success clears', () => {
  let now = 1_000_000;
  const throttle = new LoginThrottle({ maxFailures: 3, window: 60, now: () => now });
  assert.equal(throttle.blocked('192.0.2.1'), false);
  throttle.failure('192.0.2.1');
  now += 10_000;
  throttle.failure('192.0.2.1');
  assert.equal(throttle.blocked('192.0.2.1'), false);
  throttle.failure('::ffff:192.0.2.1');
  assert.equal(throttle.blocked('192.0.2.1'), true, 'IPv4-mapped is the same client');
  assert.equal(throttle.blocked('192.0.2.2'), false);
  now += 51_000; // the first failure is now older than 60 s
  assert.equal(throttle.blocked('192.0.2.1'), false);
  throttle.failure('192.0.2.1');
  assert.equal(throttle.blocked('192.0.2.1'), true);
  throttle.success('192.0.2.1');
  assert.equal(throttle.blocked('192.0.2.1'), false);
});

test('IPv6 clients are counted per /64', () => {
  const throttle = new LoginThrottle({ maxFailures: 2, window: 60 });
  throttle.failure('2001:db8:1:2::1');
  throttle.failure('2001:DB8:1:2:ffff:ffff:ffff:ffff');
  assert.equal(throttle.blocked('2001:db8:1:2::99'), true);
  assert.equal(throttle.blocked('2001:db8:1:3::1'), false);
  throttle.failure('64:ff9b::192.0.2.1');
  throttle.failure('64:ff9b::192.0.2.2');
  assert.equal(throttle.blocked('64:ff9b:0:0:1::'), true);
});

test('maxFailures 0 turns throttling off', () => {
  const throttle = new LoginThrottle({ maxFailures: 0, window: 60 });
  for (let i = 0; i < 100; i++) throttle.failure('192.0.2.1');
  assert.equal(throttle.blocked('192.0.2.1'), false);
  assert.equal(throttle.size, 0);
});

test('memory stays bounded: expired addresses are swept, the oldest dropped beyond maxEntries', () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxFailures: 5, window: 10, maxEntries: 1000, now: () => now });
  for (let i = 0; i < 5000; i++) {
    throttle.failure(`10.0.${i >> 8}.${i & 255}`);
    now += 1;
  }
  assert.equal(throttle.size, 1000);
  assert.equal(throttle.blocked('10.0.0.0'), false, 'oldest forgotten');
  for (let i = 0; i < 20; i++) throttle.failure('198.51.100.1');
  // Each address keeps at most maxFailures timestamps.
  assert.equal(throttle.blocked('198.51.100.1'), true);
  now += 60_000;
  throttle.failure('203.0.113.1');
  assert.equal(throttle.size, 1, 'everything older than the window was swept');
});
