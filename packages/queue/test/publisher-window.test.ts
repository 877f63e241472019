import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { PublishError } from '@mtaq/errors';
import { Broker, declareTopology, Publisher } from '../src/index.js';

const URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';
const name = (p: string): string => `mtaq-test-${p}-${randomBytes(4).toString('hex')}`;

/** A proxy to 5672 that can hold back what the broker says (confirms) and let it through later. */
class HoldingProxy {
  server: net.Server | undefined;
  held = false;
  readonly #backlog: Array<() => void> = [];
  async start(): Promise<number> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(5672, '127.0.0.1');
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => (this.held ? this.#backlog.push(() => client.write(d)) : client.write(d)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }
  hold(): void {
    this.held = true;
  }
  release(): void {
    this.held = false;
    for (const write of this.#backlog.splice(0)) write();
  }
  close(): void {
    this.server?.close();
  }
}

describe('publisher window and confirm deadline', () => {
  let admin: ChannelModel;
  const queues: string[] = [];
  const brokers: Broker[] = [];
  const topology = (q: string) => (c: ChannelModel) =>
    declareTopology(c, { exchange: '', durable: true, quorum: false, lazy: false, maxPriority: 0, queues: [q] });

  before(async () => {
    admin = await connect(URL);
  });
  after(async () => {
    for (const b of brokers) await b.close();
    const ch = await admin.createChannel();
    for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
    await admin.close();
  });

  test('a lazy body is encoded only inside the byte window: never two 600-byte bodies in a 1000-byte window', async () => {
    const q = name('window');
    queues.push(q);
    const b = new Broker({ urls: [URL], setup: topology(q) });
    brokers.push(b);
    await b.start();
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 100, maxInFlightBytes: 1000, timeout: 5 });
    assert.equal(publisher.available, true);
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        publisher.publish(
          q,
          () => {
            most = Math.max(most, publisher.inFlight);
            return Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(580) }));
          },
          { sizeHint: 600 },
        ),
      ),
    );
    assert.equal(most, 1);
    const ch = await admin.createChannel();
    assert.equal((await ch.checkQueue(q)).messageCount, 8);
    await publisher.close();
  });

  test('waiting for a slot is not part of the deadline; a confirm after it is logged as a possible duplicate', async () => {
    const q = name('late');
    queues.push(q);
    const proxy = new HoldingProxy();
    const port = await proxy.start();
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const b = new Broker({ urls: [`amqp://guest:guest@127.0.0.1:${port}/`], setup: topology(q), heartbeat: 30 });
    brokers.push(b);
    await b.start();
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 1, timeout: 1, logger });
    await publisher.publish(q, Buffer.from('{"n":0}')); // the channel is open
    proxy.hold();
    const started = Date.now();
    const first = publisher.publish(q, Buffer.from('{"n":1}'), { messageId: 'mid-one' }).catch((e: unknown) => e);
    const second = publisher.publish(q, Buffer.from('{"n":2}'), { messageId: 'mid-two' }).catch((e: unknown) => e);
    const e1 = await first;
    const t1 = Date.now() - started;
    const e2 = await second;
    const t2 = Date.now() - started;
    assert.ok(e1 instanceof PublishError && e2 instanceof PublishError);
    assert.match((e2 as Error).message, /did not confirm within 1s/);
    assert.ok(t1 >= 900 && t1 < 1800, `first: ${t1} ms`);
    assert.ok(t2 >= 1800, `the second waited for the slot first, then had its own second: ${t2} ms`);
    proxy.release();
    for (let i = 0; i < 50 && lines.filter((l) => l['msg'] === 'broker confirmed a publish after the deadline: possible duplicate').length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = lines.filter((l) => l['msg'] === 'broker confirmed a publish after the deadline: possible duplicate');
    assert.deepEqual(late.map((l) => l['mid']).sort(), ['mid-one', 'mid-two']);
    assert.ok(late.every((l) => l['level'] === 40), 'warn');
    await publisher.close();
    proxy.close();
  });

  test('a nack rejects that publish only and moves publishing to a new channel (a quorum queue can leave a channel nacking)', async () => {
    const q = name('nack');
    queues.push(q);
    const ch = await admin.createChannel();
    // one message at most, later ones refused: the broker nacks
    await ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const b = new Broker({ urls: [URL] });
    brokers.push(b);
    await b.start();
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 10, timeout: 5, logger });
    await publisher.publish(q, Buffer.from('{"n":1}'));
    const refused = await publisher.publish(q, Buffer.from('{"n":2}')).catch((e: unknown) => e);
    assert.ok(refused instanceof PublishError);
    assert.match(refused.message, /refused the message \(nack\)/);
    assert.equal(lines.filter((l) => l['msg'] === 'broker nacked a publish: publishing on a new channel').length, 1);
    await ch.purgeQueue(q);
    await publisher.publish(q, Buffer.from('{"n":3}'));
    const got = await ch.get(q, { noAck: true });
    assert.ok(got && got.content.toString() === '{"n":3}', 'the publish after the nack went through on the new channel');
    await ch.close();
    await publisher.close();
  });

  test('not connected: publish rejects at once and available is false', async () => {
    const b = new Broker({ urls: ['amqp://guest:guest@127.0.0.1:1/'], reconnectDelay: 30 });
    brokers.push(b);
    await b.start();
    const publisher = new Publisher(b, { exchange: '', persistent: false, maxInFlight: 1, timeout: 5 });
    assert.equal(publisher.available, false);
    const started = Date.now();
    await assert.rejects(publisher.publish('x', Buffer.from('{}')), /unavailable/);
    assert.ok(Date.now() - started < 500);
  });

  test('a wrong password at start is a BrokerLoginError naming rabbitmq-address, password masked', async () => {
    const b = new Broker({ urls: ['amqp://guest:wrong-secret@127.0.0.1/'] });
    const err = await b.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await b.close();
    assert.ok(err, 'start rejects');
    assert.equal(err.name === 'Error' || err.constructor.name === 'BrokerLoginError', true);
    assert.match(err.message, /rabbitmq-address/);
    assert.doesNotMatch(err.message, /wrong-secret/);
  });
});
