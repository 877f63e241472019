import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ConsumeMessage } from 'amqplib';
import { Redis } from 'ioredis';
import type { ResultEntry } from '@mtaq/envelope';
import { startRedis } from '../../../../test/helpers/redis.js';
import { freePort } from '../../../../test/helpers/ports.js';
import { Claims, copyId, COPY_HEADER, identify, type ClaimAnswer, type Identity } from '../../src/claims/index.js';
import type { ChildProcess } from 'node:child_process';

const ENTRY: ResultEntry = { state: 'message', result: 'accepted', time: '2024-05-01 10:00:00', code: 250 };

function amqp(body: string, options: { redelivered?: boolean; copy?: string } = {}): ConsumeMessage {
  return {
    content: Buffer.from(body),
    fields: { redelivered: options.redelivered ?? false, deliveryTag: 1, consumerTag: 't', exchange: '', routingKey: 'q' },
    properties: { headers: options.copy ? { [COPY_HEADER]: options.copy } : {} },
  } as unknown as ConsumeMessage;
}

describe('claims against a real Redis', () => {
  let server: ChildProcess;
  let redis: Redis;
  let port: number;
  const open: Claims[] = [];
  const claims = (options: ConstructorParameters<typeof Claims>[0] = {}): Claims => {
    const c = new Claims({ redis, prefix: `claims-test:${Math.random()}:`, pollMs: 20, ...options });
    open.push(c);
    return c;
  };

  before(async () => {
    port = await freePort();
    server = await startRedis(port);
    redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 300 });
    await new Promise((r) => redis.once('ready', r));
  });
  after(async () => {
    for (const c of open) await c.close();
    redis.disconnect();
    server.kill('SIGCONT');
    server.kill('SIGKILL');
  });

  test('identity: the same body is the same attempt; a stamped copy is known by its copy id', () => {
    const a = identify(amqp('{"recipient":"a@x.test"}'));
    assert.equal(a.mustCheck, false, 'a first delivery does not consult claims');
    assert.equal(identify(amqp('{"recipient":"a@x.test"}', { redelivered: true })).key, a.key);
    assert.equal(identify(amqp('{"recipient":"a@x.test"}', { redelivered: true })).mustCheck, true);
    assert.notEqual(identify(amqp('{"recipient":"b@x.test"}')).key, a.key);
    const copy = copyId(a, 'retry');
    assert.equal(copy, copyId(a, 'retry'), 'deterministic');
    assert.notEqual(copy, copyId(a, 'park'));
    const stamped = identify(amqp('{"anything":1}', { copy }));
    assert.deepEqual([stamped.key, stamped.stamped, stamped.mustCheck], [`c:${copy}`, true, true]);
  });

  test('identity: the key is the same hash across versions (message-id property, NUL, body), so claims outlive an upgrade', () => {
    const body = '{"recipient":"a@x.test","mime":"Subject: é\\r\\n\\r\\nhi"}';
    const expected = (messageId: string): string => `h:${createHash('sha256').update(messageId).update('\0').update(Buffer.from(body)).digest('base64url').slice(0, 32)}`;
    assert.equal(identify(amqp(body)).key, expected(''));
    const withId = amqp(body);
    withId.properties.messageId = 'ü-1@x.test';
    assert.equal(identify(withId).key, expected('ü-1@x.test'));
  });

  test('a redelivery after the outcome was recorded concludes from it; after the conclusion it only acks', async () => {
    const prefix = `claims-test:replay:${Math.random()}:`;
    const c = claims({ prefix });
    const first = identify(amqp('{"m":1}'));
    const taken = await c.take(first);
    assert.equal(taken.kind, 'owned');
    if (taken.kind !== 'owned') return;
    await c.record(taken.claim, ENTRY);
    const again: Identity = { ...first, mustCheck: true, redelivered: true };
    assert.deepEqual(await c.take(again), { kind: 'outcome', key: taken.claim.key, entry: ENTRY, concluded: false });
    c.concluded(taken.claim);
    assert.deepEqual(await c.take(again), { kind: 'outcome', key: taken.claim.key, entry: undefined, concluded: true });
    await new Promise((r) => setTimeout(r, 100));
    // another process, with a mirror of its own, finds the same in Redis
    assert.deepEqual(await claims({ prefix }).take(again), { kind: 'outcome', key: taken.claim.key, entry: undefined, concluded: true });
  });

  test('the same JSON published twice by a producer is delivered twice: fresh deliveries do not consult claims', async () => {
    const c = claims();
    const id = identify(amqp('{"m":2}'));
    const one = await c.take(id);
    assert.equal(one.kind, 'owned');
    if (one.kind === 'owned') await c.record(one.claim, ENTRY);
    assert.equal((await c.take(id)).kind, 'owned');
  });

  test('the takes and records asked for in one turn reach Redis as one script call, each with its own answer', async () => {
    const prefix = `claims-test:batch:${Math.random()}:`;
    const c = claims({ prefix });
    const warm = await c.take(identify(amqp('{"warm":1}'))); // loads the script
    assert.equal(warm.kind, 'owned');
    const recorded = identify(amqp('{"batch":0}'));
    const first = await c.take(recorded);
    assert.equal(first.kind, 'owned');
    if (first.kind !== 'owned') return;
    // what the client sends, as MONITOR shows it (commands a script runs show as from 'lua')
    const monitor = await redis.monitor();
    const sent: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => String(arg).startsWith(prefix))) sent.push(String(args[0]).toLowerCase());
    });
    const fresh = [1, 2, 3].map((i) => identify(amqp(`{"batch":${i}}`)));
    const [a, b, cc, , replay] = await Promise.all([
      ...fresh.map((id) => c.take(id)),
      c.record(first.claim, ENTRY),
      // a redelivery in the same batch, after the record: it finds the outcome, not a live claim
      c.take({ ...recorded, mustCheck: true, redelivered: true }),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    assert.deepEqual([a, b, cc].map((x) => x?.kind), ['owned', 'owned', 'owned']);
    assert.deepEqual(replay, { kind: 'outcome', key: first.claim.key, entry: ENTRY, concluded: false });
    assert.deepEqual(sent, ['evalsha'], 'one script call for the five operations');
    const stored = await redis.get(first.claim.key);
    assert.ok(stored?.startsWith('O|'), String(stored));
  });

  test('takes asked for by separate callbacks of one event-loop iteration (replies of several connections) share a script call', async () => {
    const prefix = `claims-test:iteration:${Math.random()}:`;
    const c = claims({ prefix });
    await c.take(identify(amqp('{"warm":2}'))); // loads the script
    const monitor = await redis.monitor();
    const sent: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => String(arg).startsWith(prefix))) sent.push(String(args[0]).toLowerCase());
    });
    // two timers due together run as two callbacks of one timers phase, like two upstream replies
    // read in one poll phase: Node empties the nextTick queue between them
    const asked: Promise<ClaimAnswer>[] = [];
    const ask = (i: number): number => asked.push(c.take(identify(amqp(`{"iteration":${i}}`))));
    await new Promise<void>((resolve) => {
      setTimeout(() => ask(1), 1);
      setTimeout(() => resolve(void ask(2)), 1);
    });
    const answers = await Promise.all(asked);
    await new Promise((r) => setTimeout(r, 50));
    monitor.disconnect();
    assert.deepEqual(answers.map((a) => a.kind), ['owned', 'owned']);
    assert.deepEqual(sent, ['evalsha'], 'one script call for both takes');
  });

  test('a redelivery waits for a live claim of another process, then takes the outcome', async () => {
    const prefix = `claims-test:shared:${Math.random()}:`;
    const holder = claims({ prefix });
    const other = claims({ prefix });
    const id = identify(amqp('{"m":3}'));
    const held = await holder.take(id);
    assert.equal(held.kind, 'owned');
    const waiting = other.take({ ...id, mustCheck: true, redelivered: true });
    await new Promise((r) => setTimeout(r, 150));
    if (held.kind === 'owned') await holder.record(held.claim, ENTRY);
    const answer = await waiting;
    assert.equal(answer.kind, 'outcome');
    assert.equal(other.stats().takeovers, 0);
  });

  test('a claim whose holder died expires and is taken over, counted', async () => {
    const prefix = `claims-test:dead:${Math.random()}:`;
    const dead = new Claims({ redis, prefix, liveTtlMs: 300 });
    const id = identify(amqp('{"m":4}'));
    assert.equal((await dead.take(id)).kind, 'owned');
    await dead.close(); // stops renewing, like a process that was killed
    const heir = claims({ prefix, liveTtlMs: 300 });
    const started = Date.now();
    const answer = await heir.take({ ...id, mustCheck: true, redelivered: true });
    assert.equal(answer.kind, 'owned');
    assert.equal(answer.kind === 'owned' && answer.takeover, true);
    assert.ok(Date.now() - started < 2000);
    assert.equal(heir.stats().takeovers, 1);
  });

  test('a live claim is renewed while its holder works', async () => {
    const prefix = `claims-test:renew:${Math.random()}:`;
    const holder = claims({ prefix, liveTtlMs: 300 });
    const id = identify(amqp('{"m":5}'));
    assert.equal((await holder.take(id)).kind, 'owned');
    await new Promise((r) => setTimeout(r, 900));
    const other = claims({ prefix, liveTtlMs: 300, maxWaitMs: 200 });
    assert.deepEqual(await other.take({ ...id, mustCheck: true, redelivered: true }), { kind: 'unavailable', reason: 'another delivery still holds this attempt' });
  });

  test('a frozen Redis costs a bounded wait, then the breaker answers at once: fresh attempts go on, redeliveries wait', async () => {
    const c = claims({ breakerMs: 1000 });
    server.kill('SIGSTOP');
    try {
      const started = Date.now();
      const first = await c.take(identify(amqp('{"m":6}')));
      assert.equal(first.kind, 'owned', 'a fresh attempt proceeds on the local claim');
      assert.ok(Date.now() - started < 1000, `first call bounded (${Date.now() - started} ms)`);
      const quick = Date.now();
      for (let i = 0; i < 50; i++) await c.take(identify(amqp(`{"m":"6-${i}"}`)));
      assert.ok(Date.now() - quick < 200, `breaker open: 50 claims in ${Date.now() - quick} ms`);
      assert.equal(c.stats().degraded, true);
      const redelivered = await c.take({ ...identify(amqp('{"m":7}')), mustCheck: true, redelivered: true });
      assert.equal(redelivered.kind, 'unavailable', 'a redelivery cannot be checked: it waits');
      // one this process already knows is settled from the local mirror
      const known = identify(amqp('{"m":6}'));
      if (first.kind === 'owned') await c.record(first.claim, ENTRY);
      assert.equal((await c.take({ ...known, mustCheck: true, redelivered: true })).kind, 'outcome');
    } finally {
      server.kill('SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await c.take(identify(amqp('{"m":8}')))).kind, 'owned');
    assert.equal(c.stats().degraded, false, 'closed again once Redis answers');
  });

  test('without Redis, a redelivery into the same process is still recognised', async () => {
    const c = new Claims({});
    open.push(c);
    const id = identify(amqp('{"m":9}'));
    const taken = await c.take(id);
    if (taken.kind === 'owned') await c.record(taken.claim, ENTRY);
    assert.equal((await c.take({ ...id, mustCheck: true, redelivered: true })).kind, 'outcome');
    assert.equal((await c.take({ ...identify(amqp('{"m":10}')), mustCheck: true, redelivered: true })).kind, 'owned');
  });
});
