/**
 * Delivery applies the rule database in §7's order (reference §7.1, §7.10, cases C49, C50, C51, C58):
 * one delivery process reading a real rule database — a SQLite file, then a PostgreSQL database —
 * with rows made through the store's CRUD API (as the REST API makes them), real RabbitMQ, MX
 * routing through a real DNS server (dnsmasq) behind a recording UDP relay, and a real SMTP sink as
 * the MX.
 */

import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth';
import pg from 'pg';
import { publishReload, storeFromAddress, type RuleStore } from '@mtaq/rules';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { dkimKey } from './helpers/dkim.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

type Doc = Record<string, unknown>;
type Entry = Record<string, unknown>;

const RUN = Date.now().toString(36);
const MX_IP = '127.0.0.61';
const MIME = 'From: Sender <sender@example.com>\r\nTo: rcpt@x.org\r\nSubject: rules\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <rules@example.com>\r\n\r\nHello\r\n';

/** A UDP relay in front of dnsmasq that records every query name, to prove what was never looked up. */
class DnsRecorder {
  readonly names: string[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}
  static async start(upstreamPort: number): Promise<DnsRecorder> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const recorder = new DnsRecorder(socket, socket.address().port);
    socket.on('message', (query, client) => {
      recorder.names.push(qname(query).toLowerCase());
      const out = createSocket('udp4');
      out.on('message', (answer) => {
        socket.send(answer, client.port, client.address);
        out.close();
      });
      out.on('error', () => out.close());
      out.send(query, upstreamPort, '127.0.0.1');
      setTimeout(() => {
        try {
          out.close();
        } catch {
          // closed already
        }
      }, 5000).unref();
    });
    return recorder;
  }
  close(): void {
    this.socket.close();
  }
}

function qname(packet: Buffer): string {
  const labels: string[] = [];
  for (let i = 12; i < packet.length && packet[i]! > 0; i += packet[i]! + 1) labels.push(packet.subarray(i + 1, i + 1 + packet[i]!).toString('latin1'));
  return labels.join('.');
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The system PostgreSQL (trust auth; scripts/test-env.sh starts it). */
const PG_ADMIN = process.env['MTAQ_TEST_PG'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

interface Database {
  readonly address: string;
  drop(): Promise<void>;
}

const sqlite = async (): Promise<Database> => ({ address: `sqlite://${join(mkdtempSync(join(tmpdir(), 'mtaq-rules-')), 'rules.sqlite')}`, drop: async () => undefined });
const postgresql = async (): Promise<Database> => {
  const name = `mtaq_delivery_rules_${process.pid}_${RUN}`;
  await pgAdmin(`create database ${name}`);
  const base = new URL(PG_ADMIN);
  return { address: `postgresql://${base.username}@${base.host}/${name}`, drop: () => pgAdmin(`drop database if exists ${name} with (force)`) };
};

for (const [dialect, database] of [['SQLite', sqlite], ['PostgreSQL', postgresql]] as const) {
  describe(`delivery applies the rule database (§7.10), ${dialect}`, () => {
    let broker: TestBroker;
    let redis: PrivateRedis;
    let dns: DnsServer;
    let recorder: DnsRecorder;
    let sink: TestSink;
    let store: RuleStore;
    let mtaq: MtaqProcess;
    let db: Database;
    const outbox = uniqueName('rules-outbox');
    const exchange = uniqueName('rules-cluster');
    const q = { results: `${outbox}-results`, success: `${outbox}-success`, failure: `${outbox}-failure`, retry: `${outbox}-retry` };
    const key = dkimKey();
    const id = (name: string): string => `${name}-${RUN}`;
    const publish = (name: string, recipient: string, doc: Doc = {}): Promise<void> =>
      broker.publishJson(outbox, { 'message-id': id(name), envelope: 'sender@example.com', recipient, mime: MIME, ...doc });
    const received = (recipient: string): number => sink.received.filter((m) => m.to.includes(recipient)).length;
    /** The documents with this message-id on `queue`, waiting for the first one. */
    const take = async (queue: string, name: string, timeoutMs = 8000): Promise<Doc> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [doc] = await broker.takeJson(queue, 1, 200);
        if (doc && doc['message-id'] === id(name)) return doc;
        if (doc) stray.push({ queue, doc });
        const kept = stray.findIndex((s) => s.queue === queue && s.doc['message-id'] === id(name));
        if (kept >= 0) return stray.splice(kept, 1)[0]!.doc;
        if (Date.now() > deadline) throw new Error(`nothing with message-id ${id(name)} on ${queue}`);
      }
    };
    const stray: Array<{ queue: string; doc: Doc }> = [];

    before(async () => {
      broker = await TestBroker.open();
      redis = await privateRedis();
      dns = await startDnsServer({
        zones: ['x.org', 'x.net', 'y.org'],
        mx: [
          { domain: 'x.org', host: 'mx.x.org', preference: 10 },
          { domain: 'x.net', host: 'mx.x.org', preference: 10 },
          { domain: 'y.org', host: 'mx.x.org', preference: 10 },
        ],
        a: [{ name: 'mx.x.org', ip: MX_IP }],
      });
      recorder = await DnsRecorder.start(dns.port);
      sink = await TestSink.start({
        host: MX_IP,
        port: 25,
        name: 'mx.x.org',
        decide: (stage, info) => {
          const local = info.address?.split('@')[0] ?? '';
          if (stage === 'rcpt' && local.startsWith('c58')) return { code: 550, message: '5.7.1 Service unavailable, try again later' };
          if (stage === 'rcpt' && local.startsWith('flood')) return { code: 421, message: '4.7.0 Too many messages from your IP' };
          return undefined;
        },
      });
      db = await database();
      store = storeFromAddress(db.address)!;
      await store.migrate();
      await broker.channel.assertQueue(outbox, { durable: true });
      for (const queue of Object.values(q)) await broker.channel.assertQueue(queue, { durable: true });
      const config = writeConfig(
        [
          'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
          'rabbitmq-persistent: true',
          `rabbitmq-outbox: ${outbox}`,
          `rabbitmq-inbox: ${outbox}`,
          `rabbitmq-results: ${q.results}`,
          `rabbitmq-success: ${q.success}`,
          `rabbitmq-failure: ${q.failure}`,
          `rabbitmq-retry: ${q.retry}`,
          `redis-address: ${redis.url}`,
          'smtp-hostname: mtaq.test',
          'delivery-idle-timeout: 1',
          'smtp-default-ips: 127.0.0.1',
          'delivery-method: smtp',
          `dns-servers: 127.0.0.1:${recorder.port}`,
          `database-address: ${db.address}`,
          // no periodic reload within the test: every edit reaches delivery through the cluster exchange (§9)
          'database-ttl: 600',
          `cluster-exchange: ${exchange}`,
          'server-id: 7',
        ].join('\n'),
      );
      mtaq = await startMtaq('delivery', ['--config-file', config]);
      for (let i = 0; !mtaq.logs.some((l) => l['msg'] === 'listening for cluster rule reloads'); i++) {
        if (i > 100) throw new Error('delivery does not listen on the cluster exchange');
        await wait(50);
      }
    });

    after(async () => {
      await mtaq?.stop().catch(() => undefined);
      await sink?.close().catch(() => undefined);
      recorder?.close();
      await dns?.stop();
      await store?.close();
      await db?.drop();
      await broker.deleteQueues(outbox, `${outbox}.node.7`, ...Object.values(q), `${outbox}.park.pause.30`, `${outbox}.delay.600`, `${outbox}.delay.3600`);
      await broker.channel.deleteExchange(exchange).catch(() => undefined);
      await broker.close();
      await redis?.stop();
    });

    /** After an edit, as the REST API does: `{"reload": true}` on the cluster exchange; resolves once delivery reloaded. */
    const reload = async (): Promise<void> => {
      const asked = (): number => mtaq.logs.filter((l) => l['msg'] === 'cluster asked for a rule reload').length;
      const before = asked();
      await publishReload(broker.channel, exchange);
      for (let i = 0; asked() === before; i++) {
        if (i > 100) throw new Error('no reload after the cluster message');
        await wait(20);
      }
      await wait(300);
    };

    test('C49 suppression → suppression/error with the entry\'s code, failure, no DNS lookup', async () => {
      await store.create('suppressions', { type: 'address', value: 't@x.net', code: 551, extended: '5.1.1', description: 'Spamtrap' });
      await reload();
      await publish('c49', 't@x.net');
      const doc = await take(q.failure, 'c49');
      const entries = doc['results'] as Entry[];
      assert.equal(entries.length, 1);
      const { time, ...entry } = entries[0]!;
      assert.ok(time);
      assert.deepEqual(entry, { state: 'suppression', result: 'error', code: 551, status: '5.1.1', description: 'Spamtrap' });
      assert.ok(!recorder.names.some((n) => n.endsWith('x.net')), `no DNS lookup for x.net: ${recorder.names.join(', ')}`);
      assert.equal(received('t@x.net'), 0);
    });

    test('C50 pause → parked without a results entry; delivered with one entry once the pause is deleted; cluster:false binds only its owner', async () => {
      const pause = await store.create('pauses', { domain: 'x.org' });
      const elsewhere = await store.create('pauses', { domain: 'y.org', cluster: false, owner: '8' });
      await reload();
      await publish('c50', 'p@x.org');
      await publish('c50-other', 'p@y.org');
      const other = await take(q.success, 'c50-other');
      assert.equal((other['results'] as Entry[]).length, 1, 'a cluster:false pause of instance 8 does not hold mail on instance 7');
      await wait(2500);
      assert.equal(received('p@x.org'), 0, 'paused: nothing sent');
      assert.equal((await broker.takeJson(q.results, 1, 100)).filter((d) => d['message-id'] === id('c50')).length, 0);
      assert.ok(mtaq.logs.some((l) => l['msg'] === 'paused: message parked'));
      assert.equal(await store.delete('pauses', pause.id), true);
      await store.delete('pauses', elsewhere.id);
      const lifted = Date.now();
      await reload();
      const doc = await take(q.success, 'c50', 10_000);
      assert.ok(Date.now() - lifted < 8000, 'released when the pause is lifted, not after the 30 s park time');
      assert.ok(mtaq.logs.some((l) => l['msg'] === 'pause lifted: parked messages released to the outbox' && (l['moved'] as number) >= 1));
      assert.equal((doc['results'] as Entry[]).length, 1, 'attempts intact: one entry');
      assert.equal(received('p@x.org'), 1);
      assert.ok(recorder.names.includes('x.org'), 'the DNS recorder does see the lookups delivery makes');
    });

    test('C51 forced error 421 → retry path, 550 → failure; no TCP connection either way', async () => {
      const e421 = await store.create('errors', { domain: 'x.org', tag: 'c51-421', code: 421, extended: '4.7.0', description: 'forced busy' });
      await store.create('errors', { domain: 'x.org', tag: 'c51-550', code: 550 });
      await reload();
      const connections = sink.connections;
      await publish('c51-421', 'f421@x.org', { tags: ['c51-421'], retries: [600] });
      await publish('c51-550', 'f550@x.org', { tags: ['c51-550'] });
      const retry = await take(q.retry, 'c51-421');
      const [r] = retry['results'] as Entry[];
      assert.equal(r!['code'], 421);
      assert.equal(r!['status'], '4.7.0');
      assert.equal(r!['description'], 'forced busy');
      assert.ok((retry['nextattempt'] as { time?: string }).time, 'retried later');
      const failure = await take(q.failure, 'c51-550');
      const [f] = failure['results'] as Entry[];
      assert.equal(f!['code'], 550);
      assert.equal(sink.connections, connections, 'no TCP connection');
      assert.equal(received('f421@x.org') + received('f550@x.org'), 0);
      await store.delete('errors', e421.id);
    });

    test('C58 response pattern (substring "try again later", result fatal:false) on a 550 → retried, not failed', async () => {
      await store.create('patterns', { pattern: 'try again later', match: 'substring', actions: { properties: { fatal: false }, tags: { add: ['throttled'] } } });
      await reload();
      await publish('c58', 'c58@x.org', { retries: [600] });
      const retry = await take(q.retry, 'c58');
      const [entry] = retry['results'] as Entry[];
      assert.equal(entry!['code'], 550);
      assert.equal(entry!['fatal'], false);
      assert.deepEqual(retry['tags'], ['throttled']);
      assert.equal((await broker.takeJson(q.failure, 1, 300)).filter((d) => d['message-id'] === id('c58')).length, 0, 'not failed');
    });

    test('response pattern with priority: a fail action first, and "retry after N s" sets nextattempt', async () => {
      await store.create('patterns', { pattern: '550 5.7.1 *', match: 'wildcard', priority: -1, tag: 'failfast', actions: { result: 'fail' } });
      await store.create('patterns', { pattern: '^550 .*later$', match: 'regex', priority: -1, tag: 'later', actions: { result: 'retry', after: 3600 } });
      await reload();
      await publish('c58-fail', 'c58-fail@x.org', { tags: ['failfast'] });
      const failed = await take(q.failure, 'c58-fail');
      assert.equal((failed['results'] as Entry[])[0]!['fatal'], true);
      const before = Date.now();
      await publish('c58-later', 'c58-later@x.org', { tags: ['later'], retries: [5] });
      const retry = await take(q.retry, 'c58-later');
      const next = Date.parse(`${(retry['nextattempt'] as { time: string }).time.replace(' ', 'T')}Z`);
      assert.ok(next - before > 3000_000, `next attempt an hour away, got ${new Date(next).toISOString()}`);
    });

    test('flood pattern (§7.9): a matching reply pauses source → domain; the next message waits out the pause, then goes', async () => {
      await store.create('floods', { domain: 'y.org', pattern: '421 *too many*', match: 'wildcard', pauseSeconds: 3, reducedSeconds: 5, connections: 1, messagesPerMinute: null });
      await reload();
      await publish('flood', 'flood@y.org', { retries: [600] });
      await take(q.retry, 'flood');
      const published = Date.now();
      await publish('after-flood', 'after@y.org');
      await wait(1000);
      assert.equal(received('after@y.org'), 0, 'held during the pause');
      assert.ok(mtaq.logs.some((l) => l['msg'] === 'flood pattern pause: message parked'));
      const doc = await take(q.success, 'after-flood', 8000);
      assert.equal((doc['results'] as Entry[]).length, 1, 'parking added no entry');
      assert.ok(Date.now() - published >= 2000, 'sent once the pause was over');
    });

    test('DKIM key table: a key for the From domain signs delivered mail', async () => {
      await store.create('dkimkeys', { domain: 'example.com', selector: 'table', key: key.privateKey });
      await reload();
      await publish('dkim', 'dkim@x.org');
      await take(q.success, 'dkim');
      const m = sink.received.find((r) => r.to.includes('dkim@x.org'))!;
      const resolver = async (name: string, type: string): Promise<string[][]> => {
        if (type === 'TXT' && name === 'table._domainkey.example.com') return [[key.record]];
        throw Object.assign(new Error('no such record'), { code: 'ENOTFOUND' });
      };
      const { results } = await dkimVerify(Buffer.from(m.mime), { resolver });
      assert.deepEqual(results.map((r) => [r.signingDomain, r.selector, r.status.result]), [['example.com', 'table', 'pass']]);
    });
  });
}

describe('delivery waits for the rule database before it consumes', () => {
  test('an unreadable SQLite file: nothing consumed; once it can be read, the outbox is delivered', async () => {
    const broker = await TestBroker.open();
    const sink = await TestSink.start({ host: '127.0.0.1' });
    const outbox = uniqueName('rules-wait-outbox');
    const dir = mkdtempSync(join(tmpdir(), 'mtaq-rules-wait-'));
    const sub = join(dir, 'db');
    // broken: the file's directory is a plain file, so nothing can be opened or created there
    writeFileSync(sub, 'not a directory');
    let mtaq: MtaqProcess | undefined;
    try {
      await broker.channel.assertQueue(outbox, { durable: true });
      await broker.channel.assertQueue(`${outbox}-success`, { durable: true });
      const config = writeConfig(
        [
          'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
          `rabbitmq-outbox: ${outbox}`,
          `rabbitmq-inbox: ${outbox}`,
          `rabbitmq-success: ${outbox}-success`,
          'rabbitmq-results: ',
          'rabbitmq-failure: ',
          'rabbitmq-retry: ',
          'redis-address: ',
          'smtp-default-ips: 127.0.0.1',
          'smtp-sink-address: 127.0.0.1',
          `smtp-sink-port: ${sink.port}`,
          `database-address: sqlite://${join(sub, 'rules.sqlite')}`,
        ].join('\n'),
      );
      mtaq = await startMtaq('delivery', ['--config-file', config], { ready: 'waiting for the rule database before consuming the outbox' });
      await broker.publishJson(outbox, { 'message-id': `wait-${RUN}`, envelope: 'sender@example.com', recipient: 'wait@x.org', mime: MIME });
      await wait(1500);
      assert.equal(await broker.count(outbox), 1, 'not consumed while the rules cannot be read');
      assert.equal(sink.received.length, 0);
      rmSync(sub);
      mkdirSync(sub);
      const [doc] = await broker.takeJson(`${outbox}-success`, 1, 15_000);
      assert.equal(doc?.['message-id'], `wait-${RUN}`);
      assert.ok(mtaq.logs.some((l) => l['msg'] === 'delivering'));
    } finally {
      await mtaq?.stop().catch(() => undefined);
      await sink.close().catch(() => undefined);
      await broker.deleteQueues(outbox, `${outbox}-success`);
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
