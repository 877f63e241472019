import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { connect, type ChannelModel } from 'amqplib';
import { AdaptivePrefetch, Broker, Consumer, declareTopology, Publisher } from '../src/index.js';

const URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';
const name = (p: string): string => `mtaq-test-${p}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await sleep(10);
}

describe('rabbitmq-minqos: the prefetch follows how many prefetched messages wait (real RabbitMQ)', () => {
  let admin: ChannelModel;
  let broker: Broker;
  let publisher: Publisher;
  const q = name('prefetch');

  before(async () => {
    admin = await connect(URL);
    broker = new Broker({ urls: [URL], reconnectDelay: 0.1, setup: (c) => declareTopology(c, { exchange: '', durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] }) });
    await broker.start();
    publisher = new Publisher(broker, { exchange: '', persistent: false, maxInFlight: 500, timeout: 5 });
    await Promise.all(Array.from({ length: 300 }, (_, i) => publisher.publish(q, Buffer.from(String(i)))));
  });
  after(async () => {
    await publisher.close();
    await broker.close();
    const ch = await admin.createChannel();
    await ch.deleteQueue(q).catch(() => undefined);
    await admin.close();
  });

  test('shrinks while more than half the window waits (to twice the work, at least by half, not below min), doubles once the whole window works (not above max)', async () => {
    // every handler holds its message until released: "waiting" is what the test says it is
    const held: Array<() => void> = [];
    const consumer = new Consumer(broker, { queue: q, prefetch: 64 }, () => new Promise((resolve) => held.push(() => resolve('ack'))));
    let waiting = 0;
    const governor = new AdaptivePrefetch([consumer], { max: 64, min: 10, waiting: () => waiting });
    await consumer.start();
    await until(() => consumer.inFlight === 64);
    assert.equal(consumer.inFlight, 64, 'the broker filled the window of 64');

    waiting = 40; // more than half waits, 24 are worked on: at least halved
    await governor.tick();
    assert.equal(consumer.prefetch, 32);
    waiting = 60; // only 4 are worked on: twice that, but not below the floor of 10
    await governor.tick();
    assert.equal(consumer.prefetch, 10);
    await governor.tick();
    assert.equal(consumer.prefetch, 10);

    // the broker honours the smaller window: after releasing 60, no more than 10 are unacked
    for (const release of held.splice(0, 60)) release();
    await until(() => consumer.inFlight >= 10, 1000);
    await sleep(200);
    assert.equal(consumer.inFlight, 10, 'the broker sent only up to the reduced prefetch');

    waiting = 0; // everything prefetched is being worked on and the window is full: it grew too small
    await governor.tick();
    assert.equal(consumer.prefetch, 20);
    await until(() => consumer.inFlight === 20);
    assert.equal(consumer.inFlight, 20, 'the broker sent up to the raised prefetch');
    await governor.tick();
    assert.equal(consumer.prefetch, 40);
    await until(() => consumer.inFlight === 40); // the window is full again
    await governor.tick();
    assert.equal(consumer.prefetch, 64, 'doubled to 40, then capped at max 64');

    // a window with room to spare is left alone
    for (const release of held.splice(0)) release();
    await sleep(100);
    waiting = 0;
    const before = consumer.prefetch;
    await consumer.cancel();
    for (const release of held.splice(0)) release();
    await until(() => consumer.inFlight === 0);
    await governor.tick();
    assert.equal(consumer.prefetch, before, 'nothing in flight, nothing waiting: unchanged');
    await consumer.close();
  });

  test('slow start: a consumer started on a long queue takes only min messages, then the window doubles while it is full', async () => {
    const long = name('slow-start');
    const ch = await admin.createConfirmChannel();
    await ch.assertQueue(long, { durable: false });
    for (let i = 0; i < 200; i++) ch.sendToQueue(long, Buffer.from(String(i)));
    await ch.waitForConfirms();
    const held: Array<() => void> = [];
    const consumer = new Consumer(broker, { queue: long, prefetch: 64 }, () => new Promise((resolve) => held.push(() => resolve('ack'))));
    const governor = new AdaptivePrefetch([consumer], { max: 64, min: 10, waiting: () => 0, intervalMs: 60_000 });
    try {
      await governor.start();
      await consumer.start();
      await until(() => consumer.inFlight >= 10, 1000);
      await sleep(200);
      assert.equal(consumer.inFlight, 10, 'the broker sent only the floor, not rabbitmq-qos');
      await governor.tick();
      assert.equal(consumer.prefetch, 20);
      await until(() => consumer.inFlight === 20);
      assert.equal(consumer.inFlight, 20, 'then the raised window');
    } finally {
      governor.stop();
      await consumer.cancel();
      for (const release of held.splice(0)) release();
      await consumer.close();
      await ch.deleteQueue(long).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  });

  test('min 0 (unlimited to the broker) is treated as 1; max 0 or min ≥ max: no governing', async () => {
    let prefetch = 8;
    const target = { inFlight: 8, get prefetch() { return prefetch; }, setPrefetch: async (n: number) => void (prefetch = n) };
    const governor = new AdaptivePrefetch([target], { max: 8, min: 0, waiting: () => 100 });
    for (let i = 0; i < 6; i++) await governor.tick();
    assert.equal(prefetch, 1, 'never 0: that would lift the limit');
    for (const options of [{ max: 0, min: 0 }, { max: 8, min: 8 }]) {
      prefetch = 8;
      const fixed = new AdaptivePrefetch([target], { ...options, waiting: () => 100, intervalMs: 5 });
      await fixed.start();
      await sleep(50);
      fixed.stop();
      assert.equal(prefetch, 8, `max ${options.max}, min ${options.min}: left as configured`);
    }
  });
});
