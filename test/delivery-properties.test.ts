/**
 * Every property of the outgoing JSON (reference §4) against ONE delivery process and ONE SMTP sink:
 * each case publishes its own message(s) and checks what reached the sink and the result documents
 * (§6) on the queues. Properties whose behaviour needs other settings (MX routing, the smarthost with
 * AUTH, a source address that is not local) are covered in test/delivery.test.ts.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { dkimVerify } from 'mailauth';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { dkimKey } from './helpers/dkim.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink, type SunkMessage } from './helpers/smtp-sink.js';

type Doc = Record<string, unknown>;
type Entry = Record<string, unknown>;

const RUN = Date.now().toString(36);
const MIME = 'From: sender@example.com\r\nTo: rcpt@x.test\r\nSubject: properties\r\nBcc: hidden@x.test\r\nX-Mailer: theirs\r\n\r\nHello {{name}}\r\nBcc: body line\r\n';

/** Every message published on the result queues, kept by `message-id`. */
class Collector {
  readonly docs = new Map<string, Array<{ doc: Doc; priority: number | undefined }>>();
  constructor(readonly channel: Channel) {}
  async consume(queue: string): Promise<void> {
    await this.channel.consume(queue, (m: ConsumeMessage | null) => {
      if (!m) return;
      const doc = JSON.parse(m.content.toString()) as Doc;
      const key = `${queue}|${String(doc['message-id'] ?? '')}`;
      this.docs.set(key, [...(this.docs.get(key) ?? []), { doc, priority: m.properties.priority as number | undefined }]);
    }, { noAck: true });
  }
  /** The `n`th document with this id on this queue, waiting for it. */
  async get(queue: string, id: string, timeoutMs = 8000): Promise<{ doc: Doc; priority: number | undefined }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.docs.get(`${queue}|${id}`);
      if (got?.[0]) return got[0];
      if (Date.now() > deadline) throw new Error(`nothing with message-id ${id} on ${queue}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  count(queue: string, id: string): number {
    return this.docs.get(`${queue}|${id}`)?.length ?? 0;
  }
}

describe('delivery honours every §4 property (one process, one sink)', () => {
  let broker: TestBroker;
  let redis: PrivateRedis;
  let sink: TestSink;
  let mtaq: MtaqProcess;
  let collector: Collector;
  const outbox = uniqueName('props-outbox');
  const q = {
    results: `${outbox}-results`,
    success: `${outbox}-success`,
    failure: `${outbox}-failure`,
    retry: `${outbox}-retry`,
    dsn: `${outbox}-dsn`,
    own: `${outbox}-own`,
  };
  const refusedOnce = new Set<string>();

  const id = (name: string): string => `${name}-${RUN}`;
  const publish = (name: string, doc: Doc): Promise<void> =>
    broker.publishJson(outbox, { 'message-id': id(name), envelope: 'sender@example.com', recipient: `${name}@x.test`, mime: MIME, ...doc });
  const received = async (name: string, timeoutMs = 8000): Promise<SunkMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = sink.received.find((r) => r.to.includes(`${name}@x.test`));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`sink never got ${name}@x.test`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const sent = (name: string): boolean => sink.received.some((r) => r.to.includes(`${name}@x.test`));
  const entries = (doc: Doc): Entry[] => doc['results'] as Entry[];
  const lastEntry = (doc: Doc): Entry => entries(doc).at(-1)!;

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    sink = await TestSink.start({
      host: '127.0.0.1',
      name: 'mx.props.test',
      starttls: true,
      dsn: true,
      decide: (stage, info) => {
        const local = info.address?.split('@')[0] ?? '';
        if (stage === 'rcpt' && local.startsWith('fail550')) return { code: 550, message: '5.1.1 no such user' };
        if (stage === 'rcpt' && local.startsWith('retry451') && !refusedOnce.has(local)) {
          refusedOnce.add(local);
          return { code: 451, message: '4.7.1 try later' };
        }
        return undefined;
      },
    });
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
        `rabbitmq-dsn: ${q.dsn}`,
        'rabbitmq-maxpriority: 10',
        `redis-address: ${redis.url}`,
        'smtp-hostname: mtaq.test',
        'delivery-idle-timeout: 1',
        'smtp-default-ips: 127.0.0.1',
        'ip-pools: bulk=127.0.0.3',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('delivery', ['--config-file', config]);
    const channel = await broker.connection.createChannel();
    await channel.assertQueue(q.own, { durable: true });
    collector = new Collector(channel);
    for (const queue of [q.results, q.success, q.failure, q.retry, q.dsn, q.own]) await collector.consume(queue);
  });

  after(async () => {
    await mtaq?.stop().catch(() => undefined);
    await sink?.close().catch(() => undefined);
    await broker.deleteQueues(outbox, ...Object.values(q));
    await broker.close();
    await redis?.stop();
  });

  test('envelope: MAIL FROM as given; missing or empty ⇒ MAIL FROM:<>', async () => {
    await publish('env-given', { envelope: 'bounce@example.com' });
    await publish('env-none', { envelope: undefined });
    await publish('env-empty', { envelope: '' });
    assert.equal((await received('env-given')).from, 'bounce@example.com');
    assert.equal((await received('env-none')).from, '');
    assert.equal((await received('env-empty')).from, '');
  });

  test('recipient: RCPT TO as given; a CR/LF in it ⇒ process/invalid on the failure queue, nothing sent', async () => {
    await publish('rcpt-ok', {});
    assert.deepEqual((await received('rcpt-ok')).to, ['rcpt-ok@x.test']);
    await publish('rcpt-bad', { recipient: 'a@x.test\r\nRCPT TO:<evil@x.test>' });
    const { doc } = await collector.get(q.failure, '');
    assert.equal(lastEntry(doc)['state'], 'process');
    assert.equal(lastEntry(doc)['result'], 'invalid');
    assert.ok(!sink.received.some((r) => r.to.includes('evil@x.test')));
  });

  test('mime: a string is sent byte for byte; an object ⇒ responsive/error, final, nothing sent', async () => {
    await publish('mime-string', {});
    assert.equal((await received('mime-string')).mime, MIME);
    await publish('mime-object', { mime: { from: 'a@example.com', subject: 'hi', text: 'hello' } });
    const { doc } = await collector.get(q.failure, id('mime-object'));
    assert.equal(lastEntry(doc)['state'], 'responsive');
    assert.equal(lastEntry(doc)['result'], 'error');
    assert.match(lastEntry(doc)['description'] as string, /responsive/);
    assert.equal(sent('mime-object'), false);
  });

  test('key: no message store in this build ⇒ storage/error, final, key kept in the result', async () => {
    await publish('key', { mime: undefined, key: 'store-key-1' });
    const { doc } = await collector.get(q.failure, id('key'));
    assert.equal(lastEntry(doc)['state'], 'storage');
    assert.equal(lastEntry(doc)['result'], 'error');
    assert.match(lastEntry(doc)['description'] as string, /no message store/);
    assert.equal(doc['key'], 'store-key-1');
    assert.equal(entries(doc).length, 1);
  });

  test('keepmime: mime kept in result documents only when true', async () => {
    await publish('keep', { keepmime: true });
    await publish('nokeep', {});
    assert.equal((await collector.get(q.success, id('keep'))).doc['mime'], MIME);
    assert.ok(!('mime' in (await collector.get(q.success, id('nokeep'))).doc));
  });

  test('data / force: personalisation is out of scope ⇒ personalize/error, unless force sends the MIME as is', async () => {
    await publish('data', { data: { name: 'Ann' } });
    const { doc } = await collector.get(q.failure, id('data'));
    assert.equal(lastEntry(doc)['state'], 'personalize');
    assert.equal(lastEntry(doc)['result'], 'error');
    assert.match(lastEntry(doc)['description'] as string, /force/);
    assert.equal(sent('data'), false);
    await publish('data-force', { data: { name: 'Ann' }, force: true });
    assert.match((await received('data-force')).mime, /Hello \{\{name\}\}/);
    await publish('data-empty', { data: {} });
    await received('data-empty');
  });

  test('inlinecss: out of scope ⇒ the MIME is sent unchanged and a warning is logged', async () => {
    await publish('inlinecss', { inlinecss: true });
    assert.equal((await received('inlinecss')).mime, MIME);
    assert.ok(mtaq.logs.some((l) => String(l['msg']).includes('inlinecss') && l['rcpt'] === 'inlinecss@x.test'));
  });

  test('ips / pool: the source address; ips wins over pool; empty ips ⇒ bind/error', async () => {
    await publish('ips', { ips: ['127.0.0.2'] });
    await publish('pool', { pool: 'bulk' });
    await publish('ips-pool', { ips: ['127.0.0.4'], pool: 'bulk' });
    await publish('ips-empty', { ips: [] });
    assert.equal((await received('ips')).remoteAddress, '127.0.0.2');
    assert.equal((await received('pool')).remoteAddress, '127.0.0.3');
    assert.equal((await received('ips-pool')).remoteAddress, '127.0.0.4');
    const { doc } = await collector.get(q.failure, id('ips-empty'));
    assert.equal(lastEntry(doc)['state'], 'bind');
    assert.equal(sent('ips-empty'), false);
    assert.equal(lastEntry((await collector.get(q.success, id('ips'))).doc)['from'], '127.0.0.2');
  });

  test('nextattempt (and legacy delayed): not attempted before its time, waiting adds no entry', async () => {
    const at = new Date(Date.now() + 2500).toISOString().replace('T', ' ').slice(0, 19);
    const published = Date.now();
    await publish('next', { nextattempt: { time: at } });
    await publish('delayed', { delayed: at });
    const next = (await collector.get(q.success, id('next'), 10000)).doc;
    const delayed = (await collector.get(q.success, id('delayed'), 10000)).doc;
    assert.ok(Date.now() - published >= 1500, 'not before its time');
    assert.equal(entries(next).length, 1);
    assert.equal(entries(delayed).length, 1);
    assert.ok(!('delayed' in delayed));
  });

  test('maxdelivertime / maxattempts: past the limit ⇒ process/timeout, no connection', async () => {
    await publish('expired', { maxdelivertime: '2020-01-01 00:00:00' });
    const earlier = { state: 'rcptto', result: 'error', time: '2024-01-01 00:00:00', code: 451 };
    await publish('attempts', { maxattempts: 2, results: [earlier, earlier] });
    for (const name of ['expired', 'attempts']) {
      const { doc } = await collector.get(q.failure, id(name));
      assert.deepEqual([lastEntry(doc)['state'], lastEntry(doc)['result']], ['process', 'timeout'], name);
      assert.equal(sent(name), false);
    }
  });

  test('retries + priority + custom properties: 451 → retry copy with nextattempt ≈ +1 s → accepted; AMQP priority kept', async () => {
    const before = Date.now();
    await publish('retry451', { retries: [1], priority: 7, 'my-ref': 'order-991', tags: ['cust-42', 'ünïcode'] });
    const retry = await collector.get(q.retry, id('retry451'));
    const nextTime = Date.parse(`${(retry.doc['nextattempt'] as { time: string }).time.replace(' ', 'T')}Z`);
    assert.ok(nextTime - before < 5000, 'retries[0] = 1 s, not retry-interval');
    assert.equal(retry.doc['my-ref'], 'order-991');
    assert.equal(retry.priority, 7);
    const done = await collector.get(q.success, id('retry451'), 10000);
    assert.deepEqual(entries(done.doc).map((e) => e['code']), [451, 250]);
    assert.equal(done.doc['my-ref'], 'order-991', 'custom property kept');
    assert.deepEqual(done.doc['tags'], ['cust-42', 'ünïcode'], 'tags kept');
    assert.equal(done.priority, 7, 'priority on the published results');
  });

  test('results: earlier entries are carried and the new one appended', async () => {
    const earlier = { state: 'connect', result: 'timeout', time: '2024-01-01 00:00:00', 'custom-field': 1 };
    await publish('results', { results: [earlier] });
    const { doc } = await collector.get(q.success, id('results'));
    assert.deepEqual(entries(doc)[0], earlier);
    assert.equal(lastEntry(doc)['result'], 'accepted');
  });

  test('dsn: RET/ENVID/NOTIFY/ORCPT sent when the remote offers DSN; a failure bounces to the dsn queue', async () => {
    await publish('dsn', { dsn: { notify: 'SUCCESS,FAILURE', ret: 'HDRS', envid: 'env-42', orcpt: 'rfc822;orig@x.test' } });
    const m = await received('dsn');
    assert.equal(m.dsn?.ret, 'HDRS');
    assert.equal(m.dsn?.envid, 'env-42');
    assert.deepEqual(m.dsn?.notify, [['SUCCESS', 'FAILURE']]);
    assert.equal(lastEntry((await collector.get(q.success, id('dsn'))).doc)['dsn'], true);
    await publish('fail550-dsn', { dsn: { notify: 'FAILURE', envid: 'env-43' } });
    await collector.get(q.failure, id('fail550-dsn'));
    const deadline = Date.now() + 5000;
    let bounce: Doc | undefined;
    while (!bounce && Date.now() < deadline) {
      bounce = [...collector.docs.entries()].find(([k, v]) => k.startsWith(`${q.dsn}|`) && /env-43/.test(String(v[0]?.doc['mime'])))?.[1][0]?.doc;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(bounce, 'a bounce on the dsn queue');
    assert.equal(bounce['envelope'], '');
    assert.equal(bounce['recipient'], 'sender@example.com');
  });

  test('queues: a kind named by the message replaces the config queue, null skips it', async () => {
    await publish('queues', { queues: { success: q.own, results: null } });
    await collector.get(q.own, id('queues'));
    await publish('queues-after', {});
    await collector.get(q.results, id('queues-after')); // a later message's results arrived: ours would have too
    assert.equal(collector.count(q.results, id('queues')), 0);
    assert.equal(collector.count(q.success, id('queues')), 0);
  });

  test('smarthost: the JSON smarthost is used (port given as a string)', async () => {
    // with smtp-sink-address every connection goes to the sink (§7.6); the smarthost with AUTH is C52 in delivery.test.ts
    await publish('smarthost', { recipient: 'smarthost@unresolvable.invalid', smarthost: { hostname: '127.0.0.1', port: String(sink.port) } });
    const deadline = Date.now() + 8000;
    while (!sink.received.some((r) => r.to.includes('smarthost@unresolvable.invalid')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    assert.ok(sink.received.some((r) => r.to.includes('smarthost@unresolvable.invalid')));
  });

  test('security: optional never uses TLS, opportunistic and required do, verified refuses a self-signed certificate', async () => {
    for (const security of ['optional', 'opportunistic', 'required']) await publish(`sec-${security}`, { security });
    await publish('sec-verified', { security: 'verified', maxattempts: 1 });
    const cipher = async (name: string): Promise<unknown> => lastEntry((await collector.get(q.success, id(name))).doc)['cipher'];
    assert.equal(await cipher('sec-optional'), undefined);
    assert.ok(await cipher('sec-opportunistic'));
    assert.ok(await cipher('sec-required'));
    const { doc } = await collector.get(q.failure, id('sec-verified'));
    assert.notEqual(lastEntry(doc)['result'], 'accepted');
    assert.equal(sent('sec-verified'), false);
  });

  test('headers: edits applied to the header block only, before DKIM; the signature verifies (fake DNS resolver)', async () => {
    const key = dkimKey();
    await publish('headers', {
      headers: {
        remove: 'BCC',
        replace: { subject: 'Grüße — edited' },
        update: { 'x-mailer': 'ours', 'x-absent': 'never' },
        prepend: { 'X-First': 'p' },
        append: { 'X-Tag': ['a', 'b'] },
        add: { 'X-Long': 'word '.repeat(30).trim() },
      },
      dkim: { domain: 'example.com', selector: 'props', key: key.privateKey },
    });
    const m = (await received('headers')).mime;
    const [head, ...rest] = m.split('\r\n\r\n');
    assert.equal(rest.join('\r\n\r\n'), 'Hello {{name}}\r\nBcc: body line\r\n', 'body untouched');
    assert.ok(!/^bcc:/im.test(head!));
    assert.match(head!, /^Subject: =\?UTF-8\?Q\?/m);
    assert.match(head!, /^X-Mailer: ours$/m);
    assert.ok(!/x-absent/i.test(head!));
    assert.match(head!, /^X-First: p\r\n/m);
    assert.match(head!, /X-Tag: a\r\nX-Tag: b\r\n/);
    for (const line of head!.split('\r\n')) assert.ok(line.length <= 78 || line.startsWith('DKIM-Signature') || line.startsWith(' '), line);
    const fakeDnsTxt = async (name: string, type: string): Promise<string[][]> => {
      if (type === 'TXT' && name === 'props._domainkey.example.com') return [[key.record]];
      throw Object.assign(new Error(`fake DNS: no ${type} for ${name}`), { code: 'ENOTFOUND' });
    };
    const verified = await dkimVerify(Buffer.from(m), { resolver: fakeDnsTxt });
    const signature = verified.results.find((r) => r.signingDomain === 'example.com');
    assert.equal(signature?.status.result, 'pass', JSON.stringify(verified.results));
    const { doc } = await collector.get(q.success, id('headers'));
    assert.equal(lastEntry(doc)['result'], 'accepted');
  });

  test('headers: a CR or LF in a value ⇒ process/invalid, nothing sent (no header injection)', async () => {
    await publish('inject', { headers: { append: { 'X-A': 'x\r\nBcc: victim@example.org' } } });
    const { doc } = await collector.get(q.failure, id('inject'));
    assert.deepEqual([lastEntry(doc)['state'], lastEntry(doc)['result']], ['process', 'invalid']);
    assert.match(lastEntry(doc)['description'] as string, /CR, LF/);
    assert.equal(sent('inject'), false);
  });

  test('tags: any Unicode, kept in every result document (no pauses/forced errors by tag in this build)', async () => {
    await publish('tags', { tags: ['cust-42', '日本語'] });
    assert.deepEqual((await collector.get(q.success, id('tags'))).doc['tags'], ['cust-42', '日本語']);
  });
});
