import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

type Entry = Record<string, unknown>;

const RUN = Date.now().toString(36);
const id = (name: string): string => `${name}-${RUN}`;
const MIME = 'From: sender@example.com\r\nTo: rcpt@x.test\r\nSubject: delivery test\r\nMessage-ID: <t@example.com>\r\n\r\nHello\r\n';

/** Queue names of one test: outbox plus every result queue, all deleted afterwards. */
function queueSet(prefix: string) {
  const outbox = uniqueName(`${prefix}-outbox`);
  return {
    outbox,
    results: `${outbox}-results`,
    success: `${outbox}-success`,
    failure: `${outbox}-failure`,
    retry: `${outbox}-retry`,
    dsn: `${outbox}-dsn`,
    lines(): string[] {
      return [
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-inbox: ${outbox}`,
        `rabbitmq-results: ${outbox}-results`,
        `rabbitmq-success: ${outbox}-success`,
        `rabbitmq-failure: ${outbox}-failure`,
        `rabbitmq-retry: ${outbox}-retry`,
      ];
    },
    all(): string[] {
      return [outbox, `${outbox}-results`, `${outbox}-success`, `${outbox}-failure`, `${outbox}-retry`, `${outbox}-dsn`];
    },
  };
}

describe('delivery: outbox → upstream', () => {
  let broker: TestBroker;
  // sent markers and connection leases go to a Redis of this file's own, never the shared one
  let redis: PrivateRedis;
  const cleanup: Array<() => Promise<unknown>> = [];

  async function delivery(lines: string[], extra: { prefix?: string } = {}): Promise<MtaqProcess> {
    const config = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        'rabbitmq-persistent: true',
        `redis-address: ${redis.url}`,
        'smtp-hostname: mtaq.test',
        'delivery-idle-timeout: 1',
        // test traffic stays on loopback: without this, the host's own address would be the source
        'smtp-default-ips: 127.0.0.1',
        ...lines,
      ].join('\n'),
    );
    const mtaq = await startMtaq('delivery', ['--config-file', config]);
    cleanup.push(() => mtaq.stop());
    void extra;
    return mtaq;
  }

  async function sink(options: Parameters<typeof TestSink.start>[0] = {}): Promise<TestSink> {
    const s = await TestSink.start(options);
    cleanup.push(() => s.close());
    return s;
  }

  function queues(prefix: string) {
    const q = queueSet(prefix);
    cleanup.push(() => broker.deleteQueues(...q.all()));
    return q;
  }

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
  });
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
    await broker.close();
    await redis.stop();
  });

  test('C38 accepted: entry fields, results + success without mime, custom properties kept', async () => {
    const q = queues('c38');
    const upstream = await sink({ host: '127.0.0.1', name: 'mx.sink.test' });
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, { 'message-id': id('c38a'), envelope: 'sender@example.com', recipient: 'rcpt@x.test', mime: MIME, 'my-ref': 'order-991' });
    await broker.publishJson(q.outbox, { 'message-id': id('c38b'), envelope: 'sender@example.com', recipient: 'keep@x.test', mime: MIME, keepmime: true });
    const results = await broker.takeJson(q.results, 2);
    const success = await broker.takeJson(q.success, 2);
    assert.equal(results.length, 2);
    assert.equal(success.length, 2);
    const a = results.find((d) => d['message-id'] === id('c38a'))!;
    const b = results.find((d) => d['message-id'] === id('c38b'))!;
    const entry = (a['results'] as Entry[])[0]!;
    assert.equal(entry['state'], 'message');
    assert.equal(entry['result'], 'accepted');
    assert.equal(entry['code'], 250);
    assert.equal(entry['from'], '127.0.0.1');
    assert.equal(entry['to'], '127.0.0.1');
    assert.equal(entry['mta'], 'mx.sink.test');
    assert.match(entry['time'] as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.ok(!('mime' in a), 'mime stripped');
    assert.equal(a['my-ref'], 'order-991');
    assert.equal(b['mime'], MIME, 'keepmime keeps it');
    await upstream.waitFor(2);
    assert.equal(upstream.received[0]!.from, 'sender@example.com');
    assert.ok(upstream.received.some((m) => m.to[0] === 'keep@x.test'));
    assert.equal(await broker.count(q.failure), 0);
  });

  describe('with a real DNS server', () => {
    let dns: DnsServer;
    before(async () => {
      dns = await startDnsServer({
        mx: [
          { domain: 'mx.test', host: 'mx1.mx.test', preference: 10 },
          { domain: 'dead.test', host: 'mx1.dead.test', preference: 10 },
        ],
        a: [
          { name: 'mx1.mx.test', ip: '127.0.0.44' },
          { name: 'mx1.dead.test', ip: '127.0.0.45' },
        ],
      });
      cleanup.push(() => dns.stop());
    });

    test('MX routing through dns-servers; ips / pool / smtp-default-ips pick the bound source address', async () => {
      const q = queues('mx');
      const upstream = await sink({ host: '127.0.0.44', port: 25, name: 'mx1.mx.test' });
      await delivery([
        ...q.lines(),
        'delivery-method: smtp',
        `dns-servers: ${dns.server}`,
        'ip-pools: bulk=127.0.0.3',
        'smtp-default-ips: 127.0.0.5',
        'ehlo-names: 127.0.0.2=two.mtaq.test',
      ]);
      await broker.publishJson(q.outbox, { 'message-id': id('ips'), envelope: 's@example.com', recipient: 'a@mx.test', mime: MIME, ips: ['127.0.0.2'] });
      await broker.publishJson(q.outbox, { 'message-id': id('pool'), envelope: 's@example.com', recipient: 'b@mx.test', mime: MIME, pool: 'bulk' });
      await broker.publishJson(q.outbox, { 'message-id': id('both'), envelope: 's@example.com', recipient: 'c@mx.test', mime: MIME, ips: ['127.0.0.2'], pool: 'bulk' });
      await broker.publishJson(q.outbox, { 'message-id': id('default'), envelope: 's@example.com', recipient: 'd@mx.test', mime: MIME });
      await upstream.waitFor(4);
      const by = Object.fromEntries(upstream.received.map((m) => [m.to[0], m.remoteAddress]));
      assert.equal(by['a@mx.test'], '127.0.0.2', 'ips');
      assert.equal(by['b@mx.test'], '127.0.0.3', 'pool');
      assert.equal(by['c@mx.test'], '127.0.0.2', 'C47 ips wins over pool');
      assert.equal(by['d@mx.test'], '127.0.0.5', 'C48 smtp-default-ips');
      const results = await broker.takeJson(q.success, 4);
      const entry = (results.find((d) => d['message-id'] === id('ips'))!['results'] as Entry[])[0]!;
      assert.equal(entry['from'], '127.0.0.2');
      assert.equal(entry['to'], '127.0.0.44');
      assert.equal(entry['mta'], 'mx1.mx.test');
    });

    test('C46 a source address that is not local → bind/error, final, no connection', async () => {
      const q = queues('bind');
      const upstream = await sink({ host: '127.0.0.45', port: 25 });
      await delivery([...q.lines(), 'delivery-method: smtp', `dns-servers: ${dns.server}`]);
      await broker.publishJson(q.outbox, { 'message-id': id('nl'), envelope: 's@example.com', recipient: 'a@dead.test', mime: MIME, ips: ['203.0.113.250'] });
      await broker.publishJson(q.outbox, { 'message-id': id('empty'), envelope: 's@example.com', recipient: 'b@dead.test', mime: MIME, ips: [] });
      const failures = await broker.takeJson(q.failure, 2);
      assert.equal(failures.length, 2);
      for (const f of failures) {
        const entries = f['results'] as Entry[];
        assert.equal(entries.length, 1);
        assert.equal(entries[0]!['state'], 'bind');
        assert.equal(entries[0]!['result'], 'error');
      }
      assert.equal(upstream.connections, 0);
    });

    test('NXDOMAIN recipient domain → dns/error 5.1.2, final', async () => {
      const q = queues('nx');
      await delivery([...q.lines(), 'delivery-method: smtp', `dns-servers: ${dns.server}`]);
      await broker.publishJson(q.outbox, { 'message-id': id('nx'), envelope: 's@example.com', recipient: 'a@nowhere.test', mime: MIME });
      const [failure] = await broker.takeJson(q.failure, 1);
      const entry = (failure!['results'] as Entry[])[0]!;
      assert.equal(entry['state'], 'dns');
      assert.equal(entry['status'], '5.1.2');
    });
  });

  test('C39 + retry: 451 at RCPT, then accepted; results carry both entries, retry queue got a copy', async () => {
    const q = queues('retry');
    let refused = 0;
    const upstream = await sink({
      decide: (stage) => (stage === 'rcpt' && refused++ === 0 ? { code: 451, message: '4.7.1 try later' } : undefined),
    });
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, { 'message-id': id('r1'), envelope: 's@example.com', recipient: 'a@x.test', mime: MIME, retries: [1] });
    const [retry] = await broker.takeJson(q.retry, 1);
    assert.ok(retry, 'a copy on the retry queue');
    assert.ok(!('mime' in retry));
    const first = (retry['results'] as Entry[])[0]!;
    assert.deepEqual(
      { state: first['state'], result: first['result'], code: first['code'], status: first['status'], description: first['description'] },
      { state: 'rcptto', result: 'error', code: 451, status: '4.7.1', description: 'try later' },
    );
    assert.ok((retry['nextattempt'] as { time: string }).time);
    const [done] = await broker.takeJson(q.success, 1, 10000);
    assert.ok(done, 'delivered on the second attempt');
    const entries = done['results'] as Entry[];
    assert.deepEqual(entries.map((e) => e['code']), [451, 250]);
    assert.equal(upstream.received.length, 1);
    assert.equal(await broker.count(q.failure), 0);
  });

  test('C41 + C53: 550 → failure queue once, and a DSN on rabbitmq-dsn', async () => {
    const q = queues('fail');
    const upstream = await sink({ decide: (stage) => (stage === 'rcpt' ? { code: 550, message: '5.1.1 no such user' } : undefined) });
    await delivery([...q.lines(), `rabbitmq-dsn: ${q.dsn}`, 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, {
      'message-id': id('f1'), envelope: 'sender@example.com', recipient: 'nobody@x.test', mime: MIME, dsn: { notify: 'FAILURE', envid: 'env-1' },
    });
    await broker.publishJson(q.outbox, { 'message-id': id('f2'), envelope: '', recipient: 'nobody2@x.test', mime: MIME, dsn: { notify: 'FAILURE' } });
    const failures = await broker.takeJson(q.failure, 2);
    assert.equal(failures.length, 2);
    const entry = (failures[0]!['results'] as Entry[])[0]!;
    assert.equal(entry['code'], 550);
    assert.equal(entry['status'], '5.1.1');
    const bounces = await broker.takeJson(q.dsn, 2, 1500);
    assert.equal(bounces.length, 1, 'no bounce for an empty envelope');
    const bounce = bounces[0]!;
    assert.equal(bounce['envelope'], '');
    assert.equal(bounce['recipient'], 'sender@example.com');
    const mime = bounce['mime'] as string;
    assert.match(mime, /Content-Type: multipart\/report; report-type=delivery-status/i);
    assert.match(mime, /Status: 5\.1\.1/);
    assert.match(mime, /Original-Envelope-Id: env-1/);
    assert.equal(await broker.count(q.retry), 0);
  });

  test('C42 maxattempts 2 with 451 every time → failure after the second attempt', async () => {
    const q = queues('attempts');
    const upstream = await sink({ decide: (stage) => (stage === 'rcpt' ? { code: 451, message: '4.3.2 busy' } : undefined) });
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, { 'message-id': id('m2'), envelope: 's@example.com', recipient: 'a@x.test', mime: MIME, maxattempts: 2, retries: [1] });
    const [failure] = await broker.takeJson(q.failure, 1, 10000);
    assert.ok(failure);
    assert.deepEqual((failure['results'] as Entry[]).map((e) => e['code']), [451, 451]);
    assert.equal(upstream.received.length, 0);
  });

  test('C43 maxdelivertime in the past → process/timeout, no connection', async () => {
    const q = queues('expired');
    const upstream = await sink();
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, { envelope: 's@example.com', recipient: 'a@x.test', mime: MIME, maxdelivertime: '2020-01-01 00:00:00' });
    const [failure] = await broker.takeJson(q.failure, 1);
    const entry = (failure!['results'] as Entry[])[0]!;
    assert.equal(entry['state'], 'process');
    assert.equal(entry['result'], 'timeout');
    assert.equal(upstream.connections, 0);
  });

  test('nextattempt in the future delays the first attempt; no entry is added by waiting', async () => {
    const q = queues('delayed');
    const upstream = await sink();
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    const at = new Date(Date.now() + 3000).toISOString().replace('T', ' ').slice(0, 19);
    const published = Date.now();
    await broker.publishJson(q.outbox, { envelope: 's@example.com', recipient: 'a@x.test', mime: MIME, nextattempt: { time: at } });
    const [done] = await broker.takeJson(q.success, 1, 10000);
    assert.ok(done);
    assert.ok(Date.now() - published >= 1500, 'not attempted before its time');
    assert.equal((done['results'] as Entry[]).length, 1);
  });

  test('C52 smarthost from the JSON with AUTH; no MX lookup', async () => {
    const q = queues('smarthost');
    const upstream = await sink({ auth: { user: 'relayuser', pass: 'relaypass' } });
    await delivery([...q.lines(), 'delivery-method: smtp', 'dns-servers: 127.0.0.1:1']);
    await broker.publishJson(q.outbox, {
      envelope: 's@example.com', recipient: 'a@unresolvable.test', mime: MIME,
      smarthost: { hostname: '127.0.0.1', port: String(upstream.port), username: 'relayuser', password: 'relaypass' },
    });
    await upstream.waitFor(1);
    assert.equal(upstream.received[0]!.user, 'relayuser');
    assert.equal((await broker.takeJson(q.success, 1)).length, 1);
  });
  test('C54 gzip input is read; DKIM signing from the JSON key', async () => {
    const q = queues('gzip');
    const upstream = await sink();
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    const key = execFileSync('openssl', ['genrsa', '2048'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const document = {
      'message-id': id('gz'), envelope: 's@example.com', recipient: 'a@x.test', mime: MIME,
      dkim: { domain: 'example.com', selector: 's1', key },
    };
    broker.channel.sendToQueue(q.outbox, gzipSync(JSON.stringify(document)), { contentEncoding: 'gzip', persistent: true });
    await upstream.waitFor(1);
    const received = upstream.received[0]!.mime;
    assert.match(received, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/simple; d=example\.com;/m); // MailerQ default (reference §4)
    assert.match(received, /s=s1;/);
    assert.equal((await broker.takeJson(q.success, 1)).length, 1);
  });

  test('security: required against a server without STARTTLS is a final failure', async () => {
    const q = queues('tls');
    const upstream = await sink();
    await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`]);
    await broker.publishJson(q.outbox, { 'message-id': id('tls'), envelope: 's@example.com', recipient: 'a@x.test', mime: MIME, security: 'required' });
    const [failure] = await broker.takeJson(q.failure, 1);
    assert.ok(failure);
    const entry = (failure['results'] as Entry[])[0]!;
    assert.equal(entry['state'], 'starttls');
    assert.equal(upstream.received.length, 0, 'nothing sent in clear text');
  });

  test('more than ten transactions in flight: no listener-leak warning on stderr', async () => {
    // each transaction listens on the process-wide stop signals; 12 connections at once is normal use
    const q = queues('listeners');
    const upstream = await sink({ dataDelay: 300 });
    const mtaq = await delivery([...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`, 'delivery-limits: * * connections=12']);
    for (let n = 0; n < 24; n++) {
      await broker.publishJson(q.outbox, { 'message-id': id(`l${n}`), envelope: 's@example.com', recipient: `l${n}@x.test`, mime: MIME });
    }
    await upstream.waitFor(24, 15000);
    assert.equal(upstream.received.length, 24);
    assert.doesNotMatch(mtaq.stderr(), /MaxListenersExceededWarning/);
  });

  test('SIGTERM: in-flight deliveries finish and are acked, the rest stays queued', async () => {
    const q = queues('sigterm');
    const upstream = await sink({ dataDelay: 300 });
    const file = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/', 'rabbitmq-persistent: true', 'smtp-default-ips: 127.0.0.1',
        `redis-address: ${redis.url}`, ...q.lines(), 'smtp-sink-address: 127.0.0.1', `smtp-sink-port: ${upstream.port}`,
        'delivery-limits: * * connections=2',
      ].join('\n'),
    );
    const mtaq = await startMtaq('delivery', ['--config-file', file]);
    for (let n = 0; n < 20; n++) {
      await broker.publishJson(q.outbox, { 'message-id': id(`t${n}`), envelope: 's@example.com', recipient: `r${n}@x.test`, mime: MIME });
    }
    await upstream.waitFor(2, 10000);
    assert.equal(await mtaq.stop('SIGTERM'), 0);
    const delivered = upstream.received.length;
    const results = await broker.count(q.results);
    const left = await broker.count(q.outbox);
    assert.equal(results, delivered, 'every delivered message has its result');
    assert.equal(results + left, 20, 'the rest is still on the outbox');
  });
});

describe('the pipeline: ingress + delivery into the folder', () => {
  test('a swaks message becomes an .eml file and a result', async () => {
    const { mkdtempSync, readdirSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { freePort } = await import('./helpers/ports.js');
    const broker = await TestBroker.open();
    const redis = await privateRedis();
    const q = queueSet('pipeline');
    const folder = mkdtempSync(join(tmpdir(), 'mtaq-folder-'));
    const port = await freePort();
    const file = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/', 'rabbitmq-persistent: true', ...q.lines(),
        'smtp-ip: 127.0.0.1', `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', `delivery-folder: ${folder}`,
        `redis-address: ${redis.url}`,
      ].join('\n'),
    );
    const mtaq = await startMtaq('pipeline', ['--config-file', file]);
    try {
      await promisify(execFile)('swaks', ['--server', `127.0.0.1:${port}`, '--from', 'me@example.com', '--to', 'you@example.org', '--header', 'Subject: to the folder']);
      const [result] = await broker.takeJson(q.results, 1, 10000);
      assert.ok(result, 'a result was published');
      const files = readdirSync(folder).filter((f) => f.endsWith('.eml'));
      assert.equal(files.length, 1);
      const eml = readFileSync(join(folder, files[0]!), 'utf8');
      assert.match(eml, /^Return-Path: <me@example\.com>\r\nDelivered-To: you@example\.org\r\nReceived: from /);
      assert.match(eml, /Subject: to the folder/);
      assert.equal(files[0], `${result['message-id'] as string}.eml`);
    } finally {
      assert.equal(await mtaq.stop(), 0);
      await broker.deleteQueues(...q.all());
      await broker.close();
      await redis.stop();
    }
  });
});
