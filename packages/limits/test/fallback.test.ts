import type { ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Budgets, type BudgetScope, type Lease } from '../src/index.js';
import { delay, freePort, inspector, kill, parseRules, recordingLogger, startRedis, waitFor } from './helpers.js';

const X5: BudgetScope = { source: '10.0.0.5', domain: 'x.org', destination: 'mx.x.org' };

const servers: ChildProcess[] = [];
after(async () => {
  for (const server of servers) await kill(server);
});

test('with Redis unreachable, limits fall back to the local share without throwing, and go back to Redis when it returns', async () => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  servers.push(await startRedis(port));
  const { logger, records } = recordingLogger();
  const levels = (level: string): number => records.filter((r) => r.level === level).length;
  // Shared limit 4 over 2 processes: 2 each while Redis is away.
  const budgets = new Budgets({ redisUrl: url, rules: parseRules('* x.org connections=4 messages=4'), processes: 2, logger, leaseTtl: 3, keyPrefix: 'fb:' });
  try {
    const first = await budgets.acquireConnection(X5);
    assert.equal(first.local, false);
    assert.equal(budgets.stats().fallback, false);

    await kill(servers.pop() as ChildProcess);

    // The lease taken through Redis counts against the local share: one more, then none.
    const second = await budgets.tryAcquireConnection(X5);
    assert.ok(second?.local === true);
    assert.equal(await budgets.tryAcquireConnection(X5), undefined);
    assert.equal(budgets.stats().fallback, true);
    assert.equal(levels('error'), 1, 'the outage is logged once, at error level');

    // Waiting still works, woken by a local release.
    let third: Lease | undefined;
    const waiting = budgets.acquireConnection(X5).then((lease) => (third = lease));
    await delay(100);
    assert.equal(third, undefined);
    await first.release();
    assert.ok((await waiting).local, 'the waiter got a local lease');

    assert.deepEqual([await budgets.takeMessage(X5), await budgets.takeMessage(X5), await budgets.takeMessage(X5)], [true, true, false]);
    assert.equal(levels('error'), 1);

    servers.push(await startRedis(port));
    await waitFor('the warning that Redis is back', () => levels('warn') === 1, 8000);
    assert.equal(budgets.stats().fallback, false);

    // Leases taken during the outage are registered in Redis, so other processes see them.
    const redis = inspector(url);
    try {
      assert.equal(await redis.zcard('fb:conn:mx.x.org:10.0.0.5'), 2);
      const more = [await budgets.tryAcquireConnection(X5), await budgets.tryAcquireConnection(X5), await budgets.tryAcquireConnection(X5)];
      assert.deepEqual(
        more.map((lease) => lease?.local),
        [false, false, undefined],
        'back on the shared limit of 4',
      );
      assert.equal(await redis.zcard('fb:conn:mx.x.org:10.0.0.5'), 4);
      await budgets.close();
      assert.equal(await redis.zcard('fb:conn:mx.x.org:10.0.0.5'), 0, 'close releases every lease');
    } finally {
      redis.disconnect();
    }
    assert.equal(levels('error'), 1);
  } finally {
    await budgets.close();
  }
});

test('a Redis that is down from the start is never waited on and never throws', async () => {
  const port = await freePort();
  const { logger, records } = recordingLogger();
  const budgets = new Budgets({ redisUrl: `redis://127.0.0.1:${port}`, rules: parseRules('* * connections=3 messages=1'), processes: 3, logger });
  try {
    const started = Date.now();
    const lease = await budgets.acquireConnection(X5);
    assert.ok(lease.local);
    assert.equal(await budgets.tryAcquireConnection(X5), undefined);
    assert.equal(await budgets.takeMessage(X5), true);
    assert.equal(await budgets.takeMessage(X5), false);
    await lease.release();
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.deepEqual(budgets.stats(), { leases: 0, waiting: 0, fallback: true, shared: true });
    assert.equal(records.filter((r) => r.level === 'error').length, 1);
  } finally {
    await budgets.close();
  }
});
