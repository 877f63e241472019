import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FloodGuard, type FloodPattern } from '../../src/rules/index.js';

const facts = { recipient: 'a@x.org', domain: 'x.org', source: '10.0.0.5', tags: [] as string[] };
const flood = (p: Partial<FloodPattern> = {}): FloodPattern => ({ id: 1, pattern: '421 *too many*', match: 'wildcard', pauseSeconds: 10, reducedSeconds: 60, connections: 1, messagesPerMinute: 2, ...p });

test('flood pattern: pauses the source → domain pair, then reduced capacity (connections, messages per minute), then back to normal', () => {
  let now = 1_000_000;
  const guard = new FloodGuard(() => now);
  assert.equal(guard.observe([flood({ domain: 'y.org' })], facts, '421 4.7.0 too many connections'), undefined, 'selector: another domain');
  assert.equal(guard.observe([flood()], facts, '450 4.7.0 too many connections'), undefined, 'pattern: no match');
  assert.equal(guard.observe([flood()], facts, '421 4.7.0 Too many connections')?.id, 1);
  assert.equal(guard.pausedFor('10.0.0.5', 'X.org'), 10);
  assert.equal(guard.pausedFor('10.0.0.6', 'x.org'), 0, 'another source IP is not paused');
  assert.equal(guard.pausedFor('10.0.0.5', 'y.org'), 0, 'another domain is not paused');
  now += 10_000;
  assert.equal(guard.pausedFor('10.0.0.5', 'x.org'), 0);
  assert.equal(guard.enter('10.0.0.5', 'x.org'), true);
  assert.equal(guard.enter('10.0.0.5', 'x.org'), false, 'one connection at once');
  guard.leave('10.0.0.5', 'x.org');
  assert.equal(guard.enter('10.0.0.5', 'x.org'), true);
  guard.leave('10.0.0.5', 'x.org');
  assert.equal(guard.enter('10.0.0.5', 'x.org'), false, 'two per minute');
  now += 60_000;
  assert.equal(guard.enter('10.0.0.5', 'x.org'), true, 'reduced capacity over');
  assert.equal(guard.enter('10.0.0.5', 'x.org'), true);
  guard.leave('10.0.0.5', 'x.org');
  guard.leave('10.0.0.5', 'x.org');
});
