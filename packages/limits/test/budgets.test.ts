import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Budgets, type BudgetScope, type Lease } from '../src/index.js';
import { REDIS_URL, deleteKeys, delay, inspector, kill, parseRules, uniquePrefix, waitFor } from './helpers.js';

const X5: BudgetScope = { source: '10.0.0.5', domain: 'x.org', destination: 'mx.x.org' };
const X6: BudgetScope = { source: '10.0.0.6', domain: 'x.org', destination: 'mx.x.org' };

const prefixes: string[] = [];
const open: Budgets[] = [];

function budgets(rules: string, keyPrefix: string, extra: { leaseTtl?: number; processes?: number } = {}): Budgets {
  const b = new Budgets({ redisUrl: REDIS_URL, rules: parseRules(rules), processes: extra.processes ?? 2, keyPrefix, leaseTtl: extra.leaseTtl });
  open.push(b);
  return b;
}

function prefix(): string {
  const p = uniquePrefix();
  prefixes.push(p);
  return p;
}

before(async () => {
  const redis = inspector();
  try {
    await redis.ping();
  } catch (err) {
    throw new Error(`these tests need Redis on ${REDIS_URL} (redis-server --daemonize yes --port 6379 --save ""): ${String(err)}`);
  } finally {
    redis.disconnect();
  }
});

after(async () => {
  await Promise.all(open.map((b) => b.close()));
  for (const p of prefixes) await deleteKeys(p);
});

/** Runs `count` acquirers spread over `instances`, each holding its lease briefly; returns the peak of concurrent holders. */
async function race(instances: Budgets[], scopes: BudgetScope[], count: number): Promise<{ peak: number; peakBySource: Map<string, number> }> {
  let holders = 0;
  let peak = 0;
  const bySource = new Map<string, number>();
  const peakBySource = new Map<string, number>();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const scope = scopes[i % scopes.length] as BudgetScope;
      const lease = await (instances[i % instances.length] as Budgets).acquireConnection(scope);
      holders++;
      bySource.set(scope.source, (bySource.get(scope.source) ?? 0) + 1);
      peak = Math.max(peak, holders);
      peakBySource.set(scope.source, Math.max(peakBySource.get(scope.source) ?? 0, bySource.get(scope.source) ?? 0));
      await delay(20 + Math.random() * 20);
      holders--;
      bySource.set(scope.source, (bySource.get(scope.source) ?? 0) - 1);
      await lease.release();
    }),
  );
  return { peak, peakBySource };
}

test('two processes sharing Redis never hold more than the limit together', async () => {
  const p = prefix();
  const a = budgets('* * connections=10; * x.org connections=2', p);
  const b = budgets('* * connections=10; * x.org connections=2', p);
  const { peak } = await race([a, b], [X5], 10);
  assert.equal(peak, 2);
  assert.equal(a.stats().leases + b.stats().leases, 0);
  assert.equal(a.stats().fallback || b.stats().fallback, false);
  const redis = inspector();
  assert.equal(await redis.zcard(`${p}conn:mx.x.org:10.0.0.5`), 0, 'released leases leave Redis');
  redis.disconnect();
});

test('the destination-wide ("all") budget holds across sources and processes', async () => {
  const p = prefix();
  const rules = '* x.org connections=2; all x.org connections=3';
  const a = budgets(rules, p);
  const b = budgets(rules, p);
  const { peak, peakBySource } = await race([a, b], [X5, X6], 12);
  assert.equal(peak, 3);
  assert.ok((peakBySource.get('10.0.0.5') ?? 0) <= 2 && (peakBySource.get('10.0.0.6') ?? 0) <= 2, JSON.stringify([...peakBySource]));
});

test('tryAcquireConnection does not wait; release is idempotent; an aborted wait rejects', async () => {
  const p = prefix();
  const a = budgets('* * connections=1', p);
  const lease = await a.tryAcquireConnection(X5);
  assert.ok(lease !== undefined && !lease.local);
  assert.equal(await a.tryAcquireConnection(X5), undefined);
  assert.ok((await a.tryAcquireConnection({ ...X5, destination: 'mx.y.org', domain: 'y.org' })) !== undefined, 'other destinations have their own budget');
  await assert.rejects(a.acquireConnection(X5, { signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' });
  const waiting = a.acquireConnection(X5);
  await delay(50);
  await lease.release();
  await lease.release();
  const next = await waiting;
  assert.equal(a.stats().leases, 2);
  await next.release();
});

test('a lease renews itself while held, and a killed holder\'s slot comes back after the TTL', async () => {
  const p = prefix();
  const holder = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/holder.ts', import.meta.url)), REDIS_URL, p], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(holder.stdout, 'data')) as [Buffer];
    assert.equal(line.toString().trim(), 'held');
    const a = budgets('* * connections=1', p);
    // Three TTLs: without renewal the slot would have been freed by now.
    await delay(1500);
    assert.equal(await a.tryAcquireConnection(X5), undefined);
    await kill(holder);
    const killedAt = Date.now();
    let lease: Lease | undefined;
    await waitFor('the slot of the killed holder', async () => (lease = await a.tryAcquireConnection(X5)) !== undefined, 3000);
    const waited = Date.now() - killedAt;
    // The holder may have renewed just before it died: up to one TTL, plus polling slack.
    assert.ok(waited <= 1000 + 300, `slot came back after ${waited} ms (TTL 1000 ms)`);
    await lease?.release();
  } finally {
    await kill(holder);
  }
});

test('messages per minute are counted per source and destination-wide across processes', async () => {
  // A minute boundary in the middle would reset the counters.
  if (Date.now() % 60_000 > 55_000) await delay(60_000 - (Date.now() % 60_000) + 50);
  const p = prefix();
  const rules = '* x.org messages=3; all x.org messages=4';
  const a = budgets(rules, p);
  const b = budgets(rules, p);
  const taken: boolean[] = [];
  for (const budget of [a, b, a, b]) taken.push(await budget.takeMessage(X5));
  assert.deepEqual(taken, [true, true, true, false]);
  assert.equal(await b.takeMessage(X6), true, 'the other source still has its own budget');
  assert.equal(await a.takeMessage(X6), false, 'but the destination-wide 4 is used up');
  assert.equal(await a.takeMessage({ ...X5, domain: 'y.org', destination: 'mx.y.org' }), true, 'unlimited elsewhere');
  await assert.rejects(a.waitForMessageSlot(X5, { signal: AbortSignal.timeout(100) }), { name: 'TimeoutError' });
  assert.equal(a.stats().waiting, 0);
});

test('close releases held leases and rejects waiters', async () => {
  const p = prefix();
  const a = budgets('* * connections=1', p);
  const b = budgets('* * connections=1', p);
  await a.acquireConnection(X5);
  const waiting = a.acquireConnection(X5);
  const rejected = assert.rejects(waiting, /closed/);
  await a.close();
  await rejected;
  await waitFor('the slot to be free', async () => {
    const lease = await b.tryAcquireConnection(X5);
    await lease?.release();
    return lease !== undefined;
  }, 500);
});

test('without a Redis URL the limits are per process', async () => {
  const local = new Budgets({ redisUrl: '', rules: parseRules('* * connections=4'), processes: 2 });
  open.push(local);
  const leases: Lease[] = [];
  for (let i = 0; i < 5; i++) {
    const lease = await local.tryAcquireConnection(X5);
    if (lease !== undefined) leases.push(lease);
  }
  // No cluster to share with: the local share is limit / processes, as during an outage.
  assert.equal(leases.length, 2);
  assert.ok(leases.every((l) => l.local));
  assert.deepEqual(local.stats(), { leases: 2, waiting: 0, fallback: false, shared: false });
});
