import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { Acks } from '../src/acks.js';
import { Broker, Consumer } from '../src/index.js';

const URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';
const name = (p: string): string => `mtaq-test-${p}-${randomBytes(4).toString('hex')}`;

interface AckFrame {
  readonly tag: number;
  readonly multiple: boolean;
}

/** A fresh non-durable queue holding `count` messages. */
async function fill(admin: ChannelModel, queue: string, count: number): Promise<void> {
  const setup = await admin.createChannel();
  await setup.assertQueue(queue, { durable: false });
  for (let i = 0; i < count; i++) setup.sendToQueue(queue, Buffer.from(String(i)));
  await setup.close();
}

interface Consuming {
  readonly channel: Channel;
  readonly messages: ConsumeMessage[];
  /** Every basic.ack amqplib sent (the channel's own method, wrapped). */
  readonly frames: AckFrame[];
  readonly acks: Acks;
  /** What `acks` reported instead of throwing. */
  readonly errors: Error[];
}

/** A real channel that has received all `count` messages of its own fresh queue. */
async function consuming(admin: ChannelModel, queue: string, count: number): Promise<Consuming> {
  await fill(admin, queue, count);
  const channel = await admin.createChannel();
  const frames: AckFrame[] = [];
  const ack = channel.ack.bind(channel);
  channel.ack = (message, multiple) => {
    frames.push({ tag: message.fields.deliveryTag, multiple: multiple === true });
    ack(message, multiple);
  };
  const errors: Error[] = [];
  const acks = new Acks(channel, (err) => errors.push(err));
  const messages: ConsumeMessage[] = [];
  await channel.prefetch(count);
  await new Promise<void>((resolve) => {
    void channel.consume(queue, (m) => {
      if (!m) return;
      acks.received(m);
      messages.push(m);
      if (messages.length === count) resolve();
    });
  });
  return { channel, messages, frames, acks, errors };
}

/** Messages still on `queue` once every consumer is gone (what the broker would redeliver). */
async function left(admin: ChannelModel, queue: string): Promise<number> {
  const ch = await admin.createChannel();
  const { messageCount } = await ch.checkQueue(queue);
  await ch.close();
  return messageCount;
}

describe('acks of a consumer channel, against the real RabbitMQ', () => {
  let admin: ChannelModel;
  const queues: string[] = [];

  before(async () => {
    admin = await connect(URL);
  });
  after(async () => {
    const ch = await admin.createChannel();
    for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
    await admin.close();
  });

  test('a run settled in one turn, in any order, goes out as one multiple ack after the turn', async () => {
    const q = name('acks-run');
    queues.push(q);
    const { channel, messages, frames, acks } = await consuming(admin, q, 5);
    for (const i of [3, 0, 4, 1, 2]) acks.ack(messages[i] as ConsumeMessage);
    assert.deepEqual(frames, [], 'nothing is sent within the turn');
    await nextTurn();
    assert.deepEqual(frames, [{ tag: messages[4]?.fields.deliveryTag, multiple: true }]);
    await channel.close();
    assert.equal(await left(admin, q), 0, 'the broker took the one ack for all five');
  });

  test('deliveries settled behind one still being worked on are acked at once, each alone; the slow one is not', async () => {
    const q = name('acks-gap');
    queues.push(q);
    const { channel, messages, frames, acks } = await consuming(admin, q, 4);
    const [first, second, third, fourth] = messages as [ConsumeMessage, ConsumeMessage, ConsumeMessage, ConsumeMessage];
    acks.ack(second);
    acks.ack(fourth);
    await nextTurn();
    assert.deepEqual(frames, [
      { tag: second.fields.deliveryTag, multiple: false },
      { tag: fourth.fields.deliveryTag, multiple: false },
    ]);
    assert.equal(acks.unsettled, 2, 'what is settled on the broker is not tracked any more, however long the first takes');
    acks.ack(first);
    await nextTurn();
    assert.deepEqual(frames.at(-1), { tag: first.fields.deliveryTag, multiple: false }, 'a multiple ack here would take the third, still in flight');
    acks.ack(third);
    acks.flush();
    assert.deepEqual(frames.at(-1), { tag: third.fields.deliveryTag, multiple: false });
    assert.equal(acks.unsettled, 0);
    await channel.close();
    assert.equal(await left(admin, q), 0);
  });

  test('a nack goes out at once; the multiple ack of the run around it does not bring it back', async () => {
    const q = name('acks-nack');
    queues.push(q);
    const { channel, messages, frames, acks } = await consuming(admin, q, 3);
    const [first, second, third] = messages as [ConsumeMessage, ConsumeMessage, ConsumeMessage];
    acks.ack(first);
    acks.nack(second, true);
    acks.ack(third);
    assert.deepEqual(frames, []);
    await nextTurn();
    assert.deepEqual(frames, [{ tag: third.fields.deliveryTag, multiple: true }]);
    await channel.close();
    assert.equal(await left(admin, q), 1, 'the requeued one is back on the queue, the two acked are gone');
  });

  test('acks waiting on a channel that closed meanwhile are reported, not thrown, by the turn and by flush()', async () => {
    const q = name('acks-closed');
    queues.push(q);
    const { channel, messages, frames, acks, errors } = await consuming(admin, q, 2);
    const [first, second] = messages as [ConsumeMessage, ConsumeMessage];
    acks.ack(first);
    await channel.close();
    await nextTurn();
    assert.equal(errors.length, 1);
    acks.ack(second);
    acks.flush();
    assert.equal(errors.length, 2);
    assert.deepEqual(frames, [
      { tag: first.fields.deliveryTag, multiple: false },
      { tag: second.fields.deliveryTag, multiple: false },
    ], 'the first is tried once, not again with the second');
    assert.equal(await left(admin, q), 2, 'the broker has both back');
  });

  test('a consumer stopping as its last handler acks still sends that ack before closing the channel', async () => {
    const q = name('acks-stop');
    queues.push(q);
    const broker = new Broker({ urls: [URL], reconnectDelay: 0.1 });
    await broker.start();
    await fill(admin, q, 3);
    let handled = 0;
    let release: () => void = () => undefined;
    const last = new Promise<void>((resolve) => (release = resolve));
    const consumer = new Consumer(broker, { queue: q, prefetch: 10 }, async () => {
      if (++handled === 3) await last;
      return 'ack';
    });
    await consumer.start();
    while (handled < 3) await new Promise((r) => setTimeout(r, 5));
    const stopped = consumer.stop(5000);
    await new Promise((r) => setTimeout(r, 100)); // the cancel is through; stop waits for the handler
    // the handler's ack, the end of the drain and the channel's close all happen in this turn
    release();
    await stopped;
    await broker.close();
    assert.equal(await left(admin, q), 0, 'all three acks reached the broker before the channel closed');
  });
});
