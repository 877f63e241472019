import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { freePort } from './helpers/ports.js';
import { privateRedis, startRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

const RUN = Date.now().toString(36);
const mime = (n: number, tag = RUN): string => `From: s@example.com\r\nTo: r${n}@x.test\r\nSubject: load ${n}\r\nX-Test-Id: ${tag}-${n}\r\n\r\nbody ${n}\r\n`;

/** Waits until `check` is true, polling; throws with `what` after `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('delivery under load, limits and failures', () => {
  let broker: TestBroker;
  // leases, rate counters and sent markers go to a Redis of this file's own, never the shared one
  let redis: PrivateRedis;
  const cleanup: Array<() => Promise<unknown>> = [];

  function config(outbox: string, lines: string[]): string {
    return writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        `redis-address: ${redis.url}`,
        'rabbitmq-persistent: true',
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-results: ${outbox}-results`,
        `rabbitmq-failure: ${outbox}-failure`,
        'smtp-default-ips: 127.0.0.1',
        'delivery-idle-timeout: 1',
        ...lines,
      ].join('\n'),
    );
  }

  async function delivery(file: string): Promise<MtaqProcess> {
    const mtaq = await startMtaq('delivery', ['--config-file', file]);
    cleanup.push(() => mtaq.stop('SIGKILL'));
    return mtaq;
  }

  /** N messages with ids `<outbox>-<n>`: every test's ids are its own. */
  async function preload(outbox: string, count: number): Promise<void> {
    // declare first: delivery may not be running yet
    await broker.channel.assertQueue(outbox, { durable: true });
    for (let n = 0; n < count; n++) {
      await broker.publishJson(outbox, { 'message-id': `${outbox}-${n}`, envelope: 's@example.com', recipient: `r${n}@x.test`, mime: mime(n, outbox) });
    }
  }

  test('a reused message id is delivered again, never mistaken for an earlier delivery', async () => {
    const outbox = uniqueName('reuse');
    cleanup.push(() => broker.deleteQueues(outbox, `${outbox}-results`, `${outbox}-failure`));
    const sink = await TestSink.start();
    cleanup.push(() => sink.close());
    await delivery(config(outbox, ['smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${sink.port}`, `redis-address: ${redis.url}`]));
    await broker.channel.assertQueue(outbox, { durable: true });
    for (let round = 0; round < 2; round++) {
      await broker.publishJson(outbox, { 'message-id': `${RUN}-same`, envelope: 's@example.com', recipient: 'same@x.test', mime: mime(round) });
      await broker.publishJson(outbox, { 'message-id': `${RUN}-same`, envelope: 's@example.com', recipient: 'same@x.test', mime: mime(0) });
    }
    await sink.waitFor(4, 10000);
  });

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
  });
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
    await broker.close();
    await redis.stop();
  });

  test('a connection limit of 2 holds across two delivery processes sharing Redis', async () => {
    const outbox = uniqueName('limit');
    cleanup.push(() => broker.deleteQueues(outbox, `${outbox}-results`, `${outbox}-failure`));
    const sink = await TestSink.start({ dataDelay: 120 });
    cleanup.push(() => sink.close());
    const file = config(outbox, [
      'smtp-sink-address: 127.0.0.1',
      `smtp-sink-port: ${sink.port}`,
      `redis-address: ${redis.url}`,
      'delivery-limits: * * connections=2',
      'delivery-max-messages: 3',
    ]);
    await Promise.all([delivery(file), delivery(file)]);
    await preload(outbox, 24);
    await sink.waitFor(24, 30000);
    assert.ok(sink.maxConcurrent <= 2, `the sink saw ${sink.maxConcurrent} concurrent connections`);
    assert.ok(sink.connections >= 8, 'connections were recycled (max 3 messages each), so the limit was exercised');
    await until(async () => (await broker.count(`${outbox}-results`)) === 24, 'all results');
  });

  test('Redis stopped mid-run: delivery falls back to the local share and loses nothing', async () => {
    const outbox = uniqueName('redis-down');
    cleanup.push(() => broker.deleteQueues(outbox, `${outbox}-results`, `${outbox}-failure`));
    const redisPort = await freePort();
    const doomed = await startRedis(redisPort);
    cleanup.push(async () => doomed.kill('SIGKILL'));
    const sink = await TestSink.start({ dataDelay: 50 });
    cleanup.push(() => sink.close());
    const mtaq = await delivery(
      config(outbox, [
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
        `redis-address: redis://127.0.0.1:${redisPort}`,
        'delivery-limits: * * connections=2',
        'delivery-processes: 2',
      ]),
    );
    await preload(outbox, 40);
    await sink.waitFor(5, 15000);
    doomed.kill('SIGKILL');
    await once(doomed, 'exit');
    await sink.waitFor(40, 60000);
    await until(async () => (await broker.count(`${outbox}-results`)) === 40, 'all results');
    assert.equal(await broker.count(`${outbox}-failure`), 0);
    assert.ok(sink.maxConcurrent <= 2);
    assert.ok(
      mtaq.logs.some((l) => l['level'] === 50 && /redis/i.test(String(l['msg']))),
      'the fallback is logged loudly (error level)',
    );
  });

  test('kill -9 mid-load, then restart: every message delivered or in a result queue; duplicates counted', async (t) => {
    const outbox = uniqueName('kill');
    const total = 300;
    cleanup.push(() => broker.deleteQueues(outbox, `${outbox}-results`, `${outbox}-failure`));
    const sink = await TestSink.start({ dataDelay: 5 });
    cleanup.push(() => sink.close());
    const file = config(outbox, [
      'smtp-sink-address: 127.0.0.1',
      `smtp-sink-port: ${sink.port}`,
      `redis-address: ${redis.url}`,
      'delivery-limits: * * connections=10',
      'rabbitmq-qos: 100',
    ]);
    await preload(outbox, total);
    const first = await delivery(file);
    await sink.waitFor(total / 3, 30000);
    await first.stop('SIGKILL');
    const atKill = sink.received.length;
    await delivery(file);
    await until(async () => (await broker.count(outbox)) === 0, 'the outbox to drain', 60000);
    const results = await broker.takeJson(`${outbox}-results`, total * 2, 5000);
    const resultIds = new Set(results.map((r) => r['message-id'] as string));
    const failures = await broker.count(`${outbox}-failure`);
    const delivered = sink.received.map((m) => /X-Test-Id: (\S+)/.exec(m.mime)?.[1] ?? '?');
    const unique = new Set(delivered);
    const duplicates = delivered.length - unique.size;
    t.diagnostic(`killed after ${atKill} deliveries; ${delivered.length} deliveries of ${unique.size} messages: ${duplicates} duplicate(s); ${results.length} result documents`);
    const missing = results.filter((r) => !unique.has(r['message-id'] as string));
    if (missing.length) t.diagnostic(`results without a delivery: ${JSON.stringify(missing.slice(0, 3).map((r) => r['results']))}`);
    for (let n = 0; n < total; n++) {
      assert.ok(resultIds.has(`${outbox}-${n}`), `message ${n} has a result`);
      assert.ok(unique.has(`${outbox}-${n}`), `message ${n} reached the sink`);
    }
    assert.equal(failures, 0);
    assert.ok(duplicates <= 100, 'duplicates stay bounded by the messages in flight at the kill (prefetch 100)');
  });
});
