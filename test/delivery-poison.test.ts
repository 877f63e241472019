import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

type Doc = Record<string, unknown>;
type Entry = Record<string, unknown>;

const MIME = (tag: string): string => `From: s@example.com\r\nTo: r@x.test\r\nSubject: poison\r\nX-Poison: ${tag}\r\n\r\nbody\r\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The poison suite: documents that used to make delivery loop, resend or spin. Each one goes to a
 * real delivery process and a real SMTP sink; the sink counts how often each message arrived
 * (deliverable ones exactly once), the queues show where each result landed.
 */
describe('delivery: poison messages are settled once, never looped', () => {
  let broker: TestBroker;
  let redis: PrivateRedis;
  let sink: TestSink;
  let mtaq: MtaqProcess;
  const outbox = uniqueName('poison');
  const q = { results: `${outbox}-results`, failure: `${outbox}-failure`, dsn: `${outbox}-dsn`, retry: `${outbox}-retry` };

  const arrivals = (tag: string): number => sink.received.filter((m) => m.mime.includes(`X-Poison: ${tag}\r\n`)).length;
  const lastEntry = (doc: Doc): Entry => (doc['results'] as Entry[]).at(-1)!;

  /** Every document a queue holds, taken off it. */
  async function drain(queue: string, wait = 300): Promise<Doc[]> {
    await sleep(wait);
    const docs: Doc[] = [];
    for (;;) {
      const m = (await depth(queue)) > 0 ? await broker.channel.get(queue, { noAck: true }) : false;
      if (!m) return docs;
      docs.push(JSON.parse(m.content.toString()) as Doc);
    }
  }

  /** Messages in `queue`, 0 when it does not exist (checked on a channel of its own: a 404 closes it). */
  async function depth(queue: string): Promise<number> {
    const channel = await broker.connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } catch {
      return 0;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  }

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    sink = await TestSink.start({ host: '127.0.0.1' });
    const config = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        'rabbitmq-persistent: true',
        `redis-address: ${redis.url}`,
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-inbox: ${outbox}`,
        `rabbitmq-results: ${q.results}`,
        `rabbitmq-failure: ${q.failure}`,
        `rabbitmq-retry: ${q.retry}`,
        `rabbitmq-dsn: ${q.dsn}`,
        'smtp-hostname: mtaq.test',
        'smtp-default-ips: 127.0.0.1',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
        'delivery-idle-timeout: 1',
        'dsn-notify: FAILURE',
        // caps documents at the 64 MB floor (2 × smtp-maxsize + 1 MB would be less)
        'smtp-maxsize: 1MB',
      ].join('\n'),
    );
    mtaq = await startMtaq('delivery', ['--config-file', config]);
  });

  after(async () => {
    await mtaq?.stop();
    await sink?.close();
    const delays = ['5', '10', '600'].map((s) => `${outbox}.delay.${s}`);
    await broker.deleteQueues(outbox, ...Object.values(q), ...delays, `${outbox}-own-results`, `${outbox}-gone`);
    await broker.close();
    await redis.stop();
  });

  test('a result queue named by the message that does not exist is declared on demand; sent once', async () => {
    const own = `${outbox}-own-results`;
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'a@x.test', mime: MIME('own-queue'), queues: { results: own } });
    await until(async () => (await depth(own)) === 1, 'the result in the declared queue');
    await sleep(500);
    assert.equal(arrivals('own-queue'), 1);
    const [doc] = await drain(own, 0);
    assert.equal(lastEntry(doc!)['result'], 'accepted');
  });

  test('a result queue that loops into the outbox (success + keepmime) is refused: nothing sent, process/invalid in the failure queue', async () => {
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'b@x.test', mime: MIME('loop'), keepmime: true, queues: { success: outbox } });
    await until(async () => (await depth(q.failure)) >= 1, 'the refusal');
    await sleep(500);
    assert.equal(arrivals('loop'), 0, 'never sent');
    const [doc] = await drain(q.failure, 0);
    const entry = lastEntry(doc!);
    assert.equal(entry['state'], 'process');
    assert.equal(entry['result'], 'invalid');
    assert.match(entry['description'] as string, /consumes from/);
    assert.equal((await drain(q.results, 0)).length, 1, 'the refusal is a final result too');
    assert.equal(await depth(outbox), 0, 'nothing went back to the outbox');
  });

  test('CRLF in the recipient or envelope: process/invalid, final, no bounce', async () => {
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'c@x.test\r\nRCPT TO:<evil@x.test>', mime: MIME('crlf-r') });
    await broker.publishJson(outbox, { envelope: 's@example.com\r\nRSET', recipient: 'd@x.test', mime: MIME('crlf-e'), dsn: { notify: 'FAILURE' } });
    await until(async () => (await depth(q.failure)) >= 2, 'two failures');
    const docs = await drain(q.failure);
    assert.equal(docs.length, 2);
    for (const doc of docs) {
      assert.equal(lastEntry(doc)['state'], 'process');
      assert.equal(lastEntry(doc)['result'], 'invalid');
      assert.match(lastEntry(doc)['description'] as string, /control characters/);
    }
    assert.equal(arrivals('crlf-r') + arrivals('crlf-e'), 0);
    assert.equal(sink.received.filter((m) => m.to.includes('evil@x.test')).length, 0);
    assert.equal(await depth(q.dsn), 0, 'no bounce');
  });

  test('validate-recipient strict: a worker\'s "not an address" is process/invalid, final, not sent, not bounced', async () => {
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'not an address', mime: MIME('bad-rcpt'), dsn: { notify: 'FAILURE' } });
    await until(async () => (await depth(q.failure)) >= 1, 'the refusal');
    const [doc] = await drain(q.failure, 0);
    assert.equal(lastEntry(doc!)['state'], 'process');
    assert.equal(lastEntry(doc!)['result'], 'invalid');
    assert.match(lastEntry(doc!)['description'] as string, /validate-recipient: strict/);
    assert.equal(arrivals('bad-rcpt'), 0);
    assert.equal(await depth(q.dsn), 0);
    await drain(q.results, 0);
  });

  test('a gzip bomb is refused by the size cap, not inflated', async () => {
    const bomb = gzipSync(Buffer.from(JSON.stringify({ recipient: 'e@x.test', mime: 'x'.repeat(80 * 1024 * 1024) })));
    broker.channel.sendToQueue(outbox, bomb, { persistent: true, contentEncoding: 'gzip' });
    await until(async () => (await depth(q.failure)) >= 1, 'the refusal', 30000);
    const [doc] = await drain(q.failure, 0);
    assert.match(lastEntry(doc!)['description'] as string, /larger than the limit/);
  });

  test('the configured results queue deleted at runtime: declared again, the message sent once', async () => {
    await broker.deleteQueues(q.results);
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'f@x.test', mime: MIME('deleted') });
    await until(async () => (await depth(q.results)) >= 1, 'the result');
    await sleep(500);
    assert.equal(arrivals('deleted'), 1);
    const docs = await drain(q.results);
    assert.equal(docs.filter((d) => lastEntry(d)['result'] === 'accepted').length, 1);
  });

  test('a message that makes the handler fail every time goes to the failure queue after 5 tries, nothing sent', async () => {
    // an operator declared the 600 s delay queue by hand, without its TTL: parking there fails every time
    await broker.channel.assertQueue(`${outbox}.delay.600`, { durable: true });
    const later = new Date(Date.now() + 600_000).toISOString().replace('T', ' ').slice(0, 19);
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'g@x.test', mime: MIME('poison'), nextattempt: { time: later } });
    await until(async () => (await depth(q.failure)) >= 1, 'the give-up', 30000);
    const [doc] = await drain(q.failure, 0);
    const entry = lastEntry(doc!);
    assert.equal(entry['state'], 'process');
    assert.equal(entry['result'], 'error');
    assert.match(entry['description'] as string, /failed 5 times.*PRECONDITION_FAILED/);
    assert.equal(arrivals('poison'), 0);
    await sleep(1500);
    assert.equal(await depth(outbox), 0, 'not requeued again');
    assert.equal(mtaq.logs.filter((l) => l['msg'] === 'handler failed, requeueing message').length, 4);
  });

  test('a copy delivery stamped, published twice (a replayed retry or bounce), is sent once', async () => {
    const body = Buffer.from(JSON.stringify({ envelope: '', recipient: 'i@x.test', mime: MIME('replayed-copy') }));
    const headers = { 'x-mtaq-copy': 'replayedcopy0123456789abcdefABCDEF' };
    broker.channel.sendToQueue(outbox, body, { persistent: true, headers });
    broker.channel.sendToQueue(outbox, body, { persistent: true, headers });
    await until(() => arrivals('replayed-copy') >= 1, 'the delivery');
    await sleep(1500);
    assert.equal(arrivals('replayed-copy'), 1);
    assert.equal(await depth(outbox), 0, 'the second copy was acked without sending');
    await drain(q.results, 0);
  });

  test('a deliverable message next to all of that arrives exactly once, and nothing is left spinning', async () => {
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'h@x.test', mime: MIME('plain'), queues: { success: `${outbox}-gone`, results: null } });
    await until(() => arrivals('plain') === 1, 'the delivery');
    await sleep(1500);
    assert.equal(arrivals('plain'), 1);
    assert.equal(mtaq.logs.filter((l) => l['msg'] === 'handler failed, requeueing message').length, 4, 'only the poison message failed, 4 times');
  });
});
