import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '@mtaq/config';
import {
  Broker,
  Consumer,
  deadLetterQueue,
  declareTopology,
  delayQueueFor,
  Publisher,
  QueueDeclarer,
  QueueMismatchError,
  QUORUM_DELIVERY_LIMIT,
  topologyFromConfig,
} from '@mtaq/queue';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

type Doc = Record<string, unknown>;
type Entry = Record<string, unknown>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MIME = (tag: string): string => `From: s@example.com\r\nTo: r@x.test\r\nSubject: quorum\r\nX-Tag: ${tag}\r\n\r\nbody\r\n`;

/** Type and arguments of queues as RabbitMQ itself reports them (not as we asked for them). */
async function listQueues(names: readonly string[]): Promise<Map<string, { type: string; args: Record<string, unknown> }>> {
  const { stdout } = await promisify(execFile)('rabbitmqctl', ['list_queues', '-q', 'name', 'type', 'arguments', '--formatter', 'json']);
  const rows = JSON.parse(stdout) as Array<{ name: string; type: string; arguments: Array<[string, string, unknown]> }>;
  const found = new Map<string, { type: string; args: Record<string, unknown> }>();
  for (const row of rows) {
    if (names.includes(row.name)) found.set(row.name, { type: row.type, args: Object.fromEntries(row.arguments.map(([k, , v]) => [k, v])) });
  }
  return found;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('quorum queues (rabbitmq-quorum) on RabbitMQ 3.10', () => {
  let broker: TestBroker;
  const created: string[] = [];

  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    await broker.deleteQueues(...created);
    await broker.close();
  });

  test('the outbox gets a delivery limit and an at-least-once dead-letter queue; other queues no limit; delay queues dead-letter at-least-once', async () => {
    const outbox = uniqueName('qq-out');
    const inbox = `${outbox}-in`;
    const failure = `${outbox}-failure`;
    const dead = deadLetterQueue(outbox);
    const delay = delayQueueFor(outbox, 7, { exchange: '', quorum: true, lazy: false, maxPriority: 0 });
    created.push(outbox, inbox, failure, dead, delay.name);
    const b = new Broker({ urls: [AMQP_URL] });
    await b.start();
    await declareTopology(b.connection!, { exchange: '', durable: true, quorum: true, lazy: false, maxPriority: 0, queues: [inbox, outbox, failure], outbox });
    await new QueueDeclarer(b, { exchange: '', durable: true }).ensure(delay.name, delay.arguments);
    const seen = await listQueues([outbox, inbox, failure, dead, delay.name]);
    for (const name of [outbox, inbox, failure, dead, delay.name]) assert.equal(seen.get(name)?.type, 'quorum', name);
    assert.deepEqual(seen.get(outbox)!.args, {
      'x-queue-type': 'quorum',
      'x-delivery-limit': QUORUM_DELIVERY_LIMIT,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': dead,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    // nobody concludes what another queue would dead-letter: no limit there, so nothing is dropped
    for (const name of [inbox, failure, dead]) assert.deepEqual(seen.get(name)!.args, { 'x-queue-type': 'quorum' }, name);
    assert.deepEqual(seen.get(delay.name)!.args, {
      'x-queue-type': 'quorum',
      'x-message-ttl': 7000,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': outbox,
      'x-expires': 60000,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });

    // a retry parked in the delay queue flows back into the outbox through at-least-once dead-lettering
    const short = delayQueueFor(outbox, 1, { exchange: '', quorum: true, lazy: false, maxPriority: 0 });
    created.push(short.name);
    await new QueueDeclarer(b, { exchange: '', durable: true }).ensure(short.name, short.arguments);
    await broker.publishJson(short.name, { retry: 'me' });
    const parked = Date.now();
    const [back] = await broker.takeJson(outbox, 1, 5000);
    assert.deepEqual(back, { retry: 'me' });
    assert.ok(Date.now() - parked >= 900, 'after its TTL');
    await b.close();
  });

  test('an existing classic queue is a one-line start-up error saying how to migrate; so is a changed argument', async () => {
    const classic = uniqueName('qq-classic');
    created.push(classic, deadLetterQueue(classic));
    await broker.channel.assertQueue(classic, { durable: true });
    const b = new Broker({
      urls: [AMQP_URL],
      setup: (c) => declareTopology(c, { exchange: '', durable: true, quorum: true, lazy: false, maxPriority: 0, queues: [classic] }),
    });
    const err = await b.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await b.close();
    assert.ok(err instanceof QueueMismatchError, String(err));
    assert.equal(err.queue, classic);
    assert.equal(err.argument, 'x-queue-type');
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, new RegExp(`queue "${classic}" exists as a classic queue but rabbitmq-quorum is on.*cannot become quorum in place: drain it .*delete it`));

    // a quorum outbox declared without the delivery limit (as before this change) is named too
    const outbox = uniqueName('qq-old');
    created.push(outbox, deadLetterQueue(outbox));
    await broker.channel.assertQueue(outbox, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    const c = new Broker({ urls: [AMQP_URL] });
    await c.start();
    const mismatch = await declareTopology(c.connection!, { exchange: '', durable: true, quorum: true, lazy: false, maxPriority: 0, queues: [outbox], outbox }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await c.close();
    assert.ok(mismatch instanceof QueueMismatchError, String(mismatch));
    assert.match(mismatch.message, /other arguments than mtaq declares \(x-[a-z-]+ differs\)/);
  });

  test('rabbitmq-quorum with rabbitmq-maxpriority is a config error: one line naming the line, exit 78', async () => {
    const config = writeConfig('rabbitmq-quorum: true\nrabbitmq-maxpriority: 5\n');
    const { code, stderr } = await runCli(['delivery', '--config-file', config]);
    assert.equal(code, 78, stderr);
    // the CLI's usual form: a heading, then one line per error, naming file, line and key
    const lines = stderr.trim().split('\n');
    assert.deepEqual(lines.slice(0, 1), ['mtaq: configuration error'], stderr);
    assert.equal(lines.length, 2, stderr);
    assert.match(lines[1]!, /mtaq\.conf:2: rabbitmq-maxpriority: must be 0 \(or unset\) when rabbitmq-quorum is on/);
  });
});

describe('broker failover between the addresses of rabbitmq-address', () => {
  let broker: TestBroker;
  const created: string[] = [];
  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    await broker.deleteQueues(...created);
    await broker.close();
  });

  test('start passes over an address that refuses and one that never answers, and connects to the first that does', async () => {
    const refusing = new TcpProxy(5672);
    const port = await refusing.start();
    await refusing.cut(); // nothing listens there any more
    const silent = new TcpProxy(5672);
    await silent.start();
    silent.freeze(); // accepts the TCP connection, never answers the AMQP handshake
    const b = new Broker({
      urls: [`amqp://guest:guest@127.0.0.1:${port}/`, `amqp://guest:guest@127.0.0.1:${silent.port}/`, AMQP_URL],
      connectTimeout: 1,
    });
    const started = Date.now();
    await b.start();
    const took = Date.now() - started;
    assert.ok(b.isConnected, 'connected to the third address');
    assert.ok(took < 2500, `within one connect timeout (${took} ms)`);
    await b.close();
    await silent.cut();
  });

  test('a dropped connection fails over to the next address at once: the consumer resubscribes, the publisher publishes', async () => {
    const q = uniqueName('failover');
    created.push(q);
    const proxy = new TcpProxy(5672);
    await proxy.start();
    const b = new Broker({ urls: [`amqp://guest:guest@127.0.0.1:${proxy.port}/`, AMQP_URL], reconnectDelay: 5 });
    await b.start();
    await declareTopology(b.connection!, { exchange: '', durable: true, quorum: true, lazy: false, maxPriority: 0, queues: [q] });
    const got: string[] = [];
    const consumer = new Consumer(b, { queue: q, prefetch: 10 }, async (m) => {
      got.push(m.content.toString());
      return 'ack';
    });
    await consumer.start();
    const publisher = new Publisher(b, { exchange: '', persistent: true, maxInFlight: 10, timeout: 5 });
    await publisher.publish(q, Buffer.from('before'));
    await until(() => got.length === 1, 'the first message');
    await sleep(200); // its ack on the wire: an unacked message would rightly come again after the failover

    const reconnected = new Promise<number>((resolve) => b.once('connected', () => resolve(Date.now())));
    const cut = Date.now();
    await proxy.cut();
    const at = await reconnected;
    // far below reconnectDelay (5 s): the next node is tried at once
    assert.ok(at - cut < 1500, `failed over in ${at - cut} ms`);
    await until(() => consumer.consuming, 'the consumer to resubscribe', 5000);
    await until(() => publisher.available, 'the publisher', 5000);
    await publisher.publish(q, Buffer.from('after'));
    await until(() => got.includes('after'), 'the message published after the failover');
    assert.deepEqual(got, ['before', 'after']);
    await consumer.close();
    await publisher.close();
    await b.close();
  });
});

describe('delivery on a quorum outbox, given two broker addresses', () => {
  let broker: TestBroker;
  let sink: TestSink;
  let proxy: TcpProxy;
  let mtaq: MtaqProcess | undefined;
  // claims and cluster records of its own: the same test message in the shared Redis would look
  // concluded already to the next run (its identity is its content)
  let redis: PrivateRedis;
  const outbox = uniqueName('qq-delivery');
  const q = { failure: `${outbox}-failure`, results: `${outbox}-results` };
  const dead = deadLetterQueue(outbox);
  const tries = new Map<string, number>();
  const arrivals = (tag: string): number => sink.received.filter((m) => m.mime.includes(`X-Tag: ${tag}\r\n`)).length;
  const lastEntry = (doc: Doc): Entry => (doc['results'] as Entry[]).at(-1)!;

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    proxy = new TcpProxy(5672);
    await proxy.start();
    // "retry-once" is refused with a 451 the first time: its retry goes through the delay queue
    sink = await TestSink.start({
      host: '127.0.0.1',
      decide: (stage, info) => {
        if (stage !== 'data' || !info.mime?.includes('X-Tag: retry-once')) return undefined;
        const n = (tries.get('retry-once') ?? 0) + 1;
        tries.set('retry-once', n);
        return n === 1 ? { code: 451, message: 'try again later' } : undefined;
      },
    });
  });
  after(async () => {
    if (process.env['DEBUG_QQ']) for (const l of mtaq?.logs ?? []) console.log(JSON.stringify(l));
    await mtaq?.stop();
    await sink.close();
    await proxy.cut();
    await broker.deleteQueues(outbox, dead, q.failure, q.results, `${outbox}.delay.1`, `${outbox}.delay.2`, `${outbox}.node.1`);
    await broker.channel.deleteExchange(`${outbox}-cluster`).catch(() => undefined);
    await broker.close();
    await redis.stop();
  });

  test('past the delivery limit a message ends in the failure queue with an entry; a retry flows back through its delay queue; the process fails over', async () => {
    const text = [
      `rabbitmq-address: amqp://guest:guest@127.0.0.1:${proxy.port}/, ${AMQP_URL}`,
      'rabbitmq-quorum: true',
      'rabbitmq-persistent: true',
      `rabbitmq-outbox: ${outbox}`,
      `rabbitmq-inbox: ${outbox}`,
      `rabbitmq-failure: ${q.failure}`,
      `rabbitmq-results: ${q.results}`,
      'rabbitmq-reconnect-delay: 5',
      `redis-address: ${redis.url}`,
      // a cluster exchange of its own: delivery nodes of other tests must not take this one's mail
      `cluster-exchange: ${outbox}-cluster`,
      'retry-interval: 1',
      'smtp-hostname: mtaq.test',
      'smtp-default-ips: 127.0.0.1',
      'smtp-sink-address: 127.0.0.1',
      `smtp-sink-port: ${sink.port}`,
      'delivery-idle-timeout: 1',
      ...(process.env['DEBUG_QQ'] ? ['log-level: debug'] : []),
    ].join('\n');
    const file = writeConfig(text);
    // the topology delivery declares, so the poison message can be redelivered before delivery runs
    const { config } = loadConfig({ argv: ['--config-file', file], env: {}, systemFile: null });
    const admin = new Broker({ urls: [AMQP_URL] });
    await admin.start();
    await declareTopology(admin.connection!, topologyFromConfig(config));
    await admin.close();

    // a message every consumer took and never settled (as if it killed each process that took it)
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'poison@x.test', mime: MIME('poison') });
    let deliveries = 0;
    for (;;) {
      const m = await broker.channel.get(outbox, { noAck: false });
      if (!m) break;
      deliveries++;
      broker.channel.nack(m, false, true);
    }
    assert.equal(deliveries, QUORUM_DELIVERY_LIMIT + 1, 'handed out once plus the redeliveries the limit allows');
    await until(async () => (await broker.count(dead)) === 1, 'the dead-lettered message');

    mtaq = await startMtaq('delivery', ['--config-file', file]);
    const [failed] = await broker.takeJson(q.failure, 1, 10000);
    assert.ok(failed, 'the dead-lettered message is concluded into the failure queue');
    assert.equal(failed['recipient'], 'poison@x.test');
    const entry = lastEntry(failed);
    assert.equal(entry['state'], 'process');
    assert.equal(entry['result'], 'error');
    assert.match(entry['description'] as string, new RegExp(`^delivery-limit reached: the message was redelivered ${QUORUM_DELIVERY_LIMIT} times`));
    assert.equal(await broker.count(dead), 0);
    assert.equal(arrivals('poison'), 0, 'never sent');

    // 451 first: back to the outbox through <outbox>.delay.1 (quorum, at-least-once), then accepted
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'retry@x.test', mime: MIME('retry-once') });
    await until(() => arrivals('retry-once') === 1, 'the retry to be delivered', 30000);
    const delayArgs = (await listQueues([`${outbox}.delay.1`])).get(`${outbox}.delay.1`);
    assert.equal(delayArgs?.type, 'quorum');
    assert.equal(delayArgs?.args['x-dead-letter-strategy'], 'at-least-once');
    // results holds the poison message's failure too (results = every final outcome)
    const results = await broker.takeJson(q.results, 2, 5000);
    assert.deepEqual(results.map((d) => d['recipient']), ['poison@x.test', 'retry@x.test']);
    const entries = results[1]!['results'] as Entry[];
    assert.equal(entries.length, 2, 'the 451 and the acceptance');
    assert.equal(entries[0]!['code'], 451);
    assert.equal(entries[1]!['result'], 'accepted');

    // the first address goes away: delivery fails over to the second and goes on delivering
    await proxy.cut();
    await until(() => mtaq!.logs.filter((l) => l['msg'] === 'connected to broker').length >= 2, 'the failover', 15000);
    await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'after@x.test', mime: MIME('after-failover') });
    await until(() => arrivals('after-failover') === 1, 'delivery after the failover', 30000);
    await sleep(300);
    assert.equal(arrivals('after-failover'), 1, 'sent once');
    assert.equal(tries.get('retry-once'), 2, 'refused once, accepted once');
    assert.equal(arrivals('retry-once'), 1);
  });
});
