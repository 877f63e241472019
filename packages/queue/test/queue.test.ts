import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type ChannelModel } from 'amqplib';
import { loadConfig } from '@mtaq/config';
import { PublishError } from '@mtaq/errors';
import { Broker, Consumer, declareTopology, Publisher, queueArguments, topologyFromConfig } from '../src/index.js';

const URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';
const ROOT = join(import.meta.dirname, '..', '..', '..');
const name = (p: string): string => `mtaq-test-${p}-${randomBytes(4).toString('hex')}`;

describe('queue package against the real RabbitMQ', () => {
  let admin: ChannelModel;
  const queues: string[] = [];
  const brokers: Broker[] = [];

  const broker = async (setup?: (c: ChannelModel) => Promise<void>): Promise<Broker> => {
    const b = new Broker({ urls: [URL], reconnectDelay: 0.1, ...(setup ? { setup } : {}) });
    brokers.push(b);
    await b.start();
    return b;
  };

  before(async () => {
    admin = await connect(URL);
  });
  after(async () => {
    for (const b of brokers) await b.close();
    const ch = await admin.createChannel();
    for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
    await admin.close();
  });

  test('publisher resolves on confirm; the message is persistent JSON with its message-id', async () => {
    const q = name('pub');
    queues.push(q);
    const b = await broker((c) => declareTopology(c, { exchange: '', durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] }));
    const publisher = new Publisher(b, { exchange: '', persistent: true, maxInFlight: 10, timeout: 5 });
    await publisher.publish(q, Buffer.from('{"recipient":"a@b.example"}'), { messageId: 'abc12345' });
    const ch = await admin.createChannel();
    const got = await ch.get(q, { noAck: true });
    assert.ok(got);
    assert.equal(got.properties.messageId, 'abc12345');
    assert.equal(got.properties.deliveryMode, 2);
    assert.equal(got.properties.contentType, 'application/json');
    await publisher.close();
  });

  test('an unroutable publish (no such queue) rejects with PublishError 451 4.3.0', async () => {
    const b = await broker();
    const publisher = new Publisher(b, { exchange: '', persistent: true, maxInFlight: 10, timeout: 5 });
    const err = await publisher.publish(name('nowhere'), Buffer.from('{}')).catch((e: unknown) => e);
    assert.ok(err instanceof PublishError);
    assert.equal(err.responseCode, 451);
    assert.equal(err.status, '4.3.0');
    await publisher.close();
  });

  test('consumer honours prefetch, acks on success and requeues when the handler throws', async () => {
    const q = name('consume');
    queues.push(q);
    const b = await broker((c) => declareTopology(c, { exchange: '', durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] }));
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 100, timeout: 5 });
    for (let i = 0; i < 6; i++) await publisher.publish(q, Buffer.from(String(i)));
    let concurrent = 0;
    let maxConcurrent = 0;
    const seen: string[] = [];
    let failedOnce = false;
    const consumer = new Consumer(b, { queue: q, prefetch: 2 }, async (m) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, 30));
      concurrent--;
      const body = m.content.toString();
      if (body === '3' && !failedOnce) {
        failedOnce = true;
        throw new Error('transient');
      }
      seen.push(body);
      return 'ack';
    });
    await consumer.start();
    for (let i = 0; i < 100 && seen.length < 6; i++) await new Promise((r) => setTimeout(r, 30));
    await consumer.stop();
    assert.deepEqual([...seen].sort(), ['0', '1', '2', '3', '4', '5'], 'the failed message came back and was handled');
    assert.equal(maxConcurrent, 2, 'never more than prefetch in flight');
    const ch = await admin.createChannel();
    assert.equal((await ch.checkQueue(q)).messageCount, 0, 'everything acked');
    await publisher.close();
  });

  test('a handler learns when its AMQP delivery is lost; a failing one is requeued after a delay, not at once', async () => {
    const q = name('context');
    queues.push(q);
    const b = await broker((c) => declareTopology(c, { exchange: '', durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] }));
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 10, timeout: 5 });
    await publisher.publish(q, Buffer.from('x'));
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    const seen: Array<{ redelivered: boolean; at: number }> = [];
    let liveAfterClose: boolean | undefined;
    const first = new Consumer(b, { queue: q, prefetch: 1 }, async (m, context) => {
      seen.push({ redelivered: m.fields.redelivered, at: Date.now() });
      await holding;
      liveAfterClose = context.live();
      return 'ack';
    });
    await first.start();
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await first.close(); // the channel goes away under the handler
    release();
    await first.drained(Date.now() + 2000);
    assert.equal(liveAfterClose, false, 'the handler sees that its delivery is gone');
    const second = new Consumer(b, { queue: q, prefetch: 1, requeueDelayMs: 400 }, async (m) => {
      seen.push({ redelivered: m.fields.redelivered, at: Date.now() });
      if (seen.length === 2) throw new Error('once');
      return 'ack';
    });
    await second.start();
    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await second.stop();
    assert.equal(seen.length, 3);
    assert.equal(seen[1]!.redelivered, true, 'the broker handed it out again');
    assert.ok(seen[2]!.at - seen[1]!.at >= 380, `requeued after the delay (${seen[2]!.at - seen[1]!.at} ms)`);
    await publisher.close();
  });

  test('a queue that exists with other arguments is a start-up error', async () => {
    const q = name('mismatch');
    queues.push(q);
    const ch = await admin.createChannel();
    await ch.assertQueue(q, { durable: true });
    const b = new Broker({
      urls: [URL],
      setup: (c) => declareTopology(c, { exchange: '', durable: true, quorum: true, lazy: false, maxPriority: 0, queues: [q] }),
    });
    await assert.rejects(b.start(), /declaring RabbitMQ topology failed: .*PRECONDITION_FAILED/);
    await b.close();
  });

  test('with rabbitmq-exchange every queue is bound by its own name', async () => {
    const q = name('bound');
    const exchange = name('exchange');
    queues.push(q);
    const b = await broker((c) => declareTopology(c, { exchange, durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] }));
    const publisher = new Publisher(b, { exchange, persistent: true, maxInFlight: 10, timeout: 5 });
    await publisher.publish(q, Buffer.from('{}'));
    const ch = await admin.createChannel();
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    await ch.deleteExchange(exchange);
    await publisher.close();
  });

  test('rabbitmq/definitions.json declares exactly what etc/mtaq.conf makes mtaq declare', () => {
    const { config } = loadConfig({ argv: ['--config-file', join(ROOT, 'etc', 'mtaq.conf')], env: {}, cwd: ROOT, systemFile: null });
    const topology = topologyFromConfig(config);
    const definitions = JSON.parse(readFileSync(join(ROOT, 'rabbitmq', 'definitions.json'), 'utf8')) as {
      queues: Array<{ name: string; durable: boolean; arguments: Record<string, unknown> }>;
    };
    const declared = [...new Set(topology.queues.filter(Boolean))].sort();
    assert.deepEqual(definitions.queues.map((q) => q.name).sort(), declared);
    for (const q of definitions.queues) {
      assert.equal(q.durable, topology.durable, q.name);
      assert.deepEqual(q.arguments, queueArguments(topology), q.name);
    }
  });
});
