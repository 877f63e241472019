import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

/**
 * §9 / issue 12: two delivery nodes share one outbox; A owns 127.0.1.1 (pool "a"), B owns 127.0.2.1
 * (pool "b"). Mail that must leave from B's IPs reaches B through B's own queue, is sent from B's
 * address exactly once, waits while B is down, and mail for IPs nobody owns fails at once (C46).
 */

type Doc = Record<string, unknown>;
type Entry = Record<string, unknown>;

const RUN = Date.now().toString(36);
const id = (name: string): string => `${name}-${RUN}`;
const MIME = 'From: s@example.com\r\nTo: r@sink.test\r\nSubject: cluster ips\r\n\r\nHello\r\n';

describe('cluster: source IPs owned by delivery nodes', () => {
  const outbox = uniqueName('cluster-outbox');
  const exchange = uniqueName('cluster-exchange');
  const q = { success: `${outbox}-success`, failure: `${outbox}-failure`, results: `${outbox}-results`, retry: `${outbox}-retry` };
  let broker: TestBroker;
  let redis: PrivateRedis;
  let sink: TestSink;
  let a: MtaqProcess;
  let b: MtaqProcess | undefined;
  let configA: string;
  let configB: string;

  function config(serverId: number, ip: string, pool: string): string {
    return writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        'rabbitmq-persistent: true',
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-inbox: ${outbox}`,
        `rabbitmq-results: ${q.results}`,
        `rabbitmq-success: ${q.success}`,
        `rabbitmq-failure: ${q.failure}`,
        `rabbitmq-retry: ${q.retry}`,
        `cluster-exchange: ${exchange}`,
        `server-id: ${serverId}`,
        `smtp-default-ips: ${ip}`,
        `ip-pools: ${pool}=${ip}`,
        `redis-address: ${redis.url}`,
        'smtp-hostname: mtaq.test',
        'delivery-idle-timeout: 1',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
      ].join('\n'),
    );
  }

  const nodeQueue = (serverId: number): string => `${outbox}.node.${serverId}`;

  async function publish(queue: string, name: string, extra: Doc): Promise<void> {
    await broker.publishJson(queue, { 'message-id': id(name), envelope: 's@example.com', recipient: `${name}@sink.test`, mime: MIME, ...extra });
  }

  /** Result documents collected from a queue so far, by message-id. */
  const seen = new Map<string, Doc[]>();
  async function collect(queue: string, name: string, timeoutMs: number): Promise<Doc | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = seen.get(`${queue}/${id(name)}`)?.[0];
      if (found || Date.now() > deadline) return found;
      const got = await broker.channel.get(queue, { noAck: true });
      if (!got) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const doc = JSON.parse(got.content.toString()) as Doc;
      const key = `${queue}/${String(doc['message-id'])}`;
      seen.set(key, [...(seen.get(key) ?? []), doc]);
    }
  }

  const sentTo = (name: string) => sink.received.filter((m) => m.to[0] === `${name}@sink.test`);

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    sink = await TestSink.start();
    for (const queue of Object.values(q)) await broker.channel.assertQueue(queue, { durable: true });
    configA = config(101, '127.0.1.1', 'a');
    configB = config(102, '127.0.2.1', 'b');
    a = await startMtaq('delivery', ['--config-file', configA]);
    b = await startMtaq('delivery', ['--config-file', configB]);
  });

  after(async () => {
    await b?.stop();
    await a?.stop();
    await broker.deleteQueues(outbox, nodeQueue(101), nodeQueue(102), ...Object.values(q));
    for (const seconds of [10]) await broker.deleteQueues(`${outbox}.delay.${seconds}`);
    await broker.channel.deleteExchange(exchange).catch(() => undefined);
    await broker.close();
    await sink.close();
    await redis.stop();
  });

  test('mtaq cluster list (and --list-cluster) shows both nodes with their IPs and queues', async () => {
    const listed = await runCli(['cluster', 'list', '--json', '--config-file', configA]);
    assert.equal(listed.code, 0, listed.stderr);
    const nodes = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as Doc);
    assert.deepEqual(nodes.map((n) => n['server-id']), [101, 102]);
    assert.deepEqual(nodes.map((n) => n['ips']), [['127.0.1.1'], ['127.0.2.1']]);
    assert.deepEqual(nodes.map((n) => n['queue']), [nodeQueue(101), nodeQueue(102)]);
    assert.deepEqual(nodes.map((n) => n['pools']), [['a'], ['b']]);
    const text = await runCli(['--list-cluster', '--config-file', configB]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /server-id 101 .*queue \S+\.node\.101 +ips 127\.0\.1\.1/);
    assert.match(text.stdout, /server-id 102 .*queue \S+\.node\.102 +ips 127\.0\.2\.1/);
  });

  test("B's IPs (or pool) taken by A are forwarded to B and sent from 127.0.2.1 exactly once", async () => {
    // A's own queue: only A consumes it, so A is the one that must forward
    await publish(nodeQueue(101), 'via-a', { ips: ['127.0.2.1'] });
    await publish(nodeQueue(101), 'pool-b', { pool: 'b' });
    // the shared outbox: either node takes these, all leave from B's address
    for (let i = 0; i < 6; i++) await publish(outbox, `shared${i}`, { ips: ['127.0.2.1'] });
    await publish(outbox, 'own-a', { ips: ['127.0.1.1'] });
    await sink.waitFor(9, 15000);
    for (const name of ['via-a', 'pool-b', ...Array.from({ length: 6 }, (_, i) => `shared${i}`)]) {
      const got = sentTo(name);
      assert.equal(got.length, 1, `${name} sent once`);
      assert.equal(got[0]!.remoteAddress, '127.0.2.1', `${name} left from B's address`);
      const success = await collect(q.success, name, 5000);
      const entries = success!['results'] as Entry[];
      assert.equal(entries.length, 1, `${name}: one attempt`);
      assert.equal(entries[0]!['from'], '127.0.2.1');
    }
    assert.equal(sentTo('own-a')[0]!.remoteAddress, '127.0.1.1');
    assert.ok(a.logs.some((l) => l['msg'] === 'source IPs belong to another node: forwarded' && l['queue'] === nodeQueue(102)), 'A forwarded to B');
    assert.ok(!b!.logs.some((l) => l['msg'] === 'source IPs belong to another node: forwarded'), 'B forwarded nothing');
  });

  test("IPs nobody owns → bind/error at once, no connection", async () => {
    const before = sink.connections;
    const started = Date.now();
    await publish(outbox, 'nobody', { ips: ['127.0.9.9'] });
    const failure = await collect(q.failure, 'nobody', 5000);
    assert.ok(failure, 'failed');
    const entries = failure['results'] as Entry[];
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!['state'], 'bind');
    assert.equal(entries[0]!['result'], 'error');
    assert.ok(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
    assert.equal(sink.connections, before);
  });

  test("B down: its mail waits (no attempt, no entry), also on an A restarted meanwhile; B back: delivered from B's address", async () => {
    await b!.stop();
    b = undefined;
    await publish(nodeQueue(101), 'waits', { ips: ['127.0.2.1'] });
    const parked = (node: MtaqProcess): boolean => node.logs.some((l) => l['msg'] === 'source IPs belong to a node that cannot take it now: message parked');
    for (let i = 0; i < 40 && !parked(a); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(parked(a), 'A parked it');
    // A restarts while B is down: it learns of B from the cluster's memory in Redis, not from B
    await a.stop();
    a = await startMtaq('delivery', ['--config-file', configA]);
    await publish(nodeQueue(101), 'waits-after-restart', { pool: 'b' });
    for (let i = 0; i < 40 && !parked(a); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(parked(a), 'the restarted A parked it too');
    for (const name of ['waits', 'waits-after-restart']) {
      assert.equal(sentTo(name).length, 0);
      assert.equal(await collect(q.failure, name, 0), undefined, `${name} not failed`);
      assert.equal(await collect(q.results, name, 0), undefined, `${name}: no result entry`);
    }
    b = await startMtaq('delivery', ['--config-file', configB]);
    const deadline = Date.now() + 15000;
    while ((sentTo('waits').length === 0 || sentTo('waits-after-restart').length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const name of ['waits', 'waits-after-restart']) {
      assert.equal(sentTo(name).length, 1, `${name} sent once`);
      assert.equal(sentTo(name)[0]!.remoteAddress, '127.0.2.1');
      const success = await collect(q.success, name, 5000);
      assert.equal((success!['results'] as Entry[]).length, 1, `${name}: attempts intact, one entry`);
    }
  });
});
