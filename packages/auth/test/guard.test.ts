import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AuthGuard, accountDelay, accountHash, clientKey, type AuthGuardOptions } from '../src/index.js';
import { startRedis } from '../../../test/helpers/redis.js';
import { freePort } from '../../../test/helpers/ports.js';

const REDIS = 'redis://127.0.0.1:6379';

function options(extra: Partial<AuthGuardOptions> = {}): AuthGuardOptions {
  return { maxFailures: 3, failureWindow: 60, delay: 1, maxDelay: 30, accountWindow: 60, concurrency: 8, ...extra };
}

/** A key prefix of this test's own on the shared Redis, every key under it deleted afterwards. */
async function ownPrefix(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const prefix = `mtaq-test:auth:${randomUUID()}:`;
  t.after(async () => {
    const redis = new Redis(REDIS);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });
  return prefix;
}

test('the per-account delay doubles from the base up to the cap, from the second attempt on', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 40].map((n) => accountDelay(n, 1000, 30_000)), [0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  assert.equal(accountDelay(9, 0, 30_000), 0, 'delay 0 is off');
});

test('account names are case-folded and hashed, never in clear', () => {
  assert.equal(accountHash('Alice'), accountHash(' alice'));
  assert.notEqual(accountHash('alice'), accountHash('bob'));
  assert.match(accountHash('alice'), /^[0-9a-f]{32}$/);
});

test('client addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 per /64', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('2001:db8:1:2::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:DB8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'));
});

test('Redis: two guards (two processes, two nodes) share the account counter and the /64 address counter', async (t) => {
  const prefix = await ownPrefix(t);
  const a = new AuthGuard(options({ redis: REDIS, prefix }));
  const b = new AuthGuard(options({ redis: REDIS, prefix }));
  t.after(() => Promise.all([a.close(), b.close()]));
  assert.equal(await a.accountAttempt('alice'), 0);
  assert.equal(await b.accountAttempt('ALICE'), 1000);
  assert.equal(await a.accountAttempt('alice'), 2000);
  assert.equal(await b.accountAttempt('alice'), 4000);
  assert.equal(a.local, false);
  const redis = new Redis(REDIS);
  t.after(async () => void (await redis.quit()));
  const keys = await redis.keys(`${prefix}*`);
  assert.deepEqual(keys, [`${prefix}acct:${accountHash('alice')}`]);
  assert.ok(!keys.some((k) => k.toLowerCase().includes('alice')), 'no account name in clear');

  await a.addressFailure('2001:db8:1:2::1');
  await b.addressFailure('2001:db8:1:2::2');
  assert.equal(await a.addressBlocked('2001:db8:1:2::3'), false);
  await a.addressFailure('2001:db8:1:2:ffff::9');
  assert.equal(await b.addressBlocked('2001:db8:1:2::77'), true, 'the /64 counted across both guards');
  assert.equal(await b.addressBlocked('2001:db8:1:3::1'), false, 'the next /64 is another client');
  assert.ok(await redis.exists(`${prefix}addr:2001:db8:1:2::/64`));

  await b.success('2001:db8:1:2::5', 'Alice');
  assert.equal(await a.accountAttempt('alice'), 0, 'a good login starts the account again');
  assert.equal(await a.addressBlocked('2001:db8:1:2::5'), false);
});

test('Redis unreachable: counts fall back to the process (fail open, still throttling)', async (t) => {
  const guard = new AuthGuard(options({ redis: 'redis://127.0.0.1:1', prefix: 'unused:' }));
  t.after(() => guard.close());
  const started = Date.now();
  assert.equal(await guard.accountAttempt('alice'), 0);
  assert.equal(await guard.accountAttempt('alice'), 1000);
  assert.equal(await guard.accountAttempt('alice'), 2000);
  assert.equal(guard.local, true);
  for (let i = 0; i < 3; i++) await guard.addressFailure('192.0.2.1');
  assert.equal(await guard.addressBlocked('192.0.2.1'), true);
  assert.equal(await guard.addressBlocked('192.0.2.2'), false);
  assert.ok(Date.now() - started < 1000, 'no waiting on the dead Redis');
});

test('the quiet window forgets an account', async () => {
  const guard = new AuthGuard(options({ accountWindow: 0.2 }));
  await guard.accountAttempt('bob');
  assert.equal(await guard.accountAttempt('bob'), 1000);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await guard.accountAttempt('bob'), 0);
});

test('concurrency cap: at most N checks at once, the others queue, a queued one gives up after its timeout', async () => {
  const guard = new AuthGuard(options({ concurrency: 2 }));
  const r1 = await guard.acquire(1000);
  const r2 = await guard.acquire(1000);
  assert.ok(r1 && r2);
  assert.equal(guard.running, 2);
  const third = guard.acquire(1000);
  const late = await guard.acquire(50);
  assert.equal(late, undefined, 'no slot within 50 ms');
  r1();
  const r3 = await third;
  assert.ok(r3);
  assert.equal(guard.running, 2);
  r2();
  r3();
  assert.equal(guard.running, 0);
});

test('Redis going away and coming back: local counts while it is down, shared again once it is back', async (t) => {
  const port = await freePort();
  let server = await startRedis(port);
  t.after(() => void server.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  const guard = new AuthGuard(options({ redis: url }));
  t.after(() => guard.close());
  assert.equal(await guard.accountAttempt('ivy'), 0);
  assert.equal(await guard.accountAttempt('ivy'), 1000);
  assert.equal(guard.local, false);
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGKILL');
  await exited;
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  assert.equal(await guard.accountAttempt('ivy'), 2000, 'the local count carried on');
  assert.equal(guard.local, true);
  assert.ok(Date.now() - started < 1500, 'no long wait on the dead Redis');
  server = await startRedis(port);
  for (let i = 0; i < 50 && guard.local; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(guard.local, false, 'reconnected');
  assert.equal(await guard.accountAttempt('ivy'), 0, 'the fresh Redis starts the account again (its first attempt there)');
  const other = new AuthGuard(options({ redis: url }));
  t.after(() => other.close());
  assert.equal(await other.accountAttempt('ivy'), 1000, 'and shares it with the other processes');
});
