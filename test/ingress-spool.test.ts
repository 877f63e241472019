import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, type MtaqProcess } from './helpers/process.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A file appears in the spool as a whole: written under a dot name (ignored), then renamed in. */
function drop(dir: string, name: string, content: string | Buffer): void {
  const temp = join(dir, `.writing-${name}`);
  writeFileSync(temp, content);
  renameSync(temp, join(dir, name));
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}

const mime = (headers: string[], body = 'Hello\r\n'): string => `${headers.join('\r\n')}\r\n\r\n${body}`;

/**
 * spool-directory (reference §2.2, §3, C36) with real RabbitMQ: two ingress processes watch one
 * directory, as two instances on a shared directory would; every file is injected exactly once.
 */
describe('ingress → spool directory', () => {
  const inbox = uniqueName('spool-inbox');
  const local = uniqueName('spool-local');
  const root = mkdtempSync(join(tmpdir(), 'mtaq-spool-'));
  const spool = join(root, 'in');
  const failed = join(root, 'failed');
  let broker: TestBroker;
  const processes: MtaqProcess[] = [];

  async function startIngress(extra: string[] = [], dir = spool, address = AMQP_URL): Promise<MtaqProcess> {
    const config = join(root, `mtaq-${processes.length}.conf`);
    writeFileSync(
      config,
      [
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${await freePort()}`,
        'smtp-hostname: mx.ours.test',
        'smtp-local-addresses: @ours.test',
        'redis-address:',
        `rabbitmq-address: ${address}`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-local: ${local}`,
        `spool-directory: ${dir}`,
        `spool-fail-directory: ${failed}`,
        ...extra,
      ].join('\n'),
    );
    const mtaq = await startMtaq('ingress', ['--config-file', config], { ready: 'watching spool directory' });
    processes.push(mtaq);
    return mtaq;
  }

  before(async () => {
    broker = await TestBroker.open();
    await startIngress();
    await startIngress();
  });

  after(async () => {
    for (const mtaq of processes) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await broker.deleteQueues(inbox, local);
    await broker.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** What is left in the spool besides its subdirectories: nothing, once every file is handled. */
  // the entry types come with the listing: a stat per name would race the ingress renaming a file
  // into its claim name and on (a CI run failed with ENOENT on a `.mtaq-claim.*` name it had listed)
  const leftovers = (dir = spool): string[] => readdirSync(dir, { withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => e.name);

  test('C36: Return-Path is the envelope, one JSON per To/Cc/Bcc address, Bcc removed, the spool property', async () => {
    const message = mime(['Return-Path: <b@x.com>', 'From: a@x.com', 'To: To One <t1@y.org>, t2@y.org', 'Cc: c1@y.org', 'Bcc: hidden@y.org', 'Subject: C36']);
    drop(spool, 'c36.eml', message);
    const docs = await broker.takeJson(inbox, 4, 5000);
    assert.equal(docs.length, 4);
    assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['c1@y.org', 'hidden@y.org', 't1@y.org', 't2@y.org']);
    const ids = new Set(docs.map((d) => d['message-id']));
    assert.equal(ids.size, 4, 'each copy has its own message-id');
    for (const doc of docs) {
      assert.equal(doc['envelope'], 'b@x.com');
      assert.equal(doc['hostname'], 'mx.ours.test');
      assert.match(String(doc['received']), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      assert.doesNotMatch(String(doc['mime']), /^Bcc:/im);
      assert.match(String(doc['mime']), /^Subject: C36\r\n/m);
      assert.deepEqual(doc['spool'], { directory: spool, file: 'c36.eml', user: userInfo().username, size: Buffer.byteLength(message) });
      assert.equal(doc['connection'], undefined);
    }
    await until(() => leftovers().length === 0);
  });

  test('From is the envelope without Return-Path; x-mq-* headers become properties (spool-extract) and leave the MIME', async () => {
    drop(spool, 'plain.eml', mime(['From: Alice <a@x.com>', 'Sender: s@x.com', 'To: r@y.org', 'Subject: plain']));
    drop(spool, 'xmq.eml', mime(['X-MQ-Envelope: bounces@x.com', 'X-MQ-Tag: spool', 'X-MQ-Tag: second', 'From: a@x.com', 'To: r2@y.org', 'Subject: xmq']));
    const docs = await broker.takeJson(inbox, 2, 5000);
    const byFile = Object.fromEntries(docs.map((d) => [(d['spool'] as { file: string }).file, d]));
    assert.equal(byFile['plain.eml']?.['envelope'], 'a@x.com');
    assert.equal(byFile['xmq.eml']?.['envelope'], 'bounces@x.com');
    assert.deepEqual(byFile['xmq.eml']?.['tags'], ['spool', 'second']);
    assert.doesNotMatch(String(byFile['xmq.eml']?.['mime']), /x-mq-/i);
  });

  test('a JSON file is a document: its properties kept, ours added; a Local Address goes to rabbitmq-local', async () => {
    drop(spool, 'doc.json', JSON.stringify({ recipient: 'r@y.org', envelope: 'e@x.com', mime: 'From: e@x.com\r\nTo: r@y.org\r\n\r\nHi', tags: ['json'], 'my-ref': 'order-1' }));
    drop(spool, 'local.json', JSON.stringify([{ recipient: 'postmaster@ours.test', mime: 'From: e@x.com\r\n\r\nHi local' }]));
    const [doc] = await broker.takeJson(inbox, 1, 5000);
    assert.equal(doc?.['recipient'], 'r@y.org');
    assert.equal(doc?.['envelope'], 'e@x.com');
    assert.deepEqual(doc?.['tags'], ['json']);
    assert.equal(doc?.['my-ref'], 'order-1');
    assert.equal(doc?.['mime'], 'From: e@x.com\r\nTo: r@y.org\r\n\r\nHi');
    assert.match(String(doc?.['message-id']), /^[a-z0-9]{8,}$/);
    assert.equal((doc?.['spool'] as { file: string }).file, 'doc.json');
    const [localDoc] = await broker.takeJson(local, 1, 5000);
    assert.equal(localDoc?.['recipient'], 'postmaster@ours.test');
    assert.equal(localDoc?.['envelope'], 'e@x.com', 'from the MIME when the JSON names none');
  });

  test('a file dropped into the spool watched by two processes is injected exactly once', async () => {
    const files = 40;
    for (let i = 0; i < files; i++) drop(spool, `burst-${i}.eml`, mime(['From: a@x.com', `To: burst${i}@y.org`, `Subject: burst ${i}`]));
    const docs = await broker.takeJson(inbox, files, 10_000);
    assert.equal(docs.length, files);
    await until(() => leftovers().length === 0);
    await sleep(500); // a duplicate would arrive by now
    assert.equal(await broker.count(inbox), 0, 'no file injected twice');
    assert.equal(new Set(docs.map((d) => d['recipient'])).size, files);
    const injected = processes.slice(0, 2).map((p) => p.logs.filter((l) => l['msg'] === 'spool file injected' && String(l['file']).startsWith('burst-')).length);
    assert.equal(injected[0]! + injected[1]!, files, `injected per process: ${injected.join(', ')}`);
  });

  test('a file that cannot be injected goes to spool-fail-directory with a .reason file', async () => {
    drop(spool, 'norcpt.eml', mime(['From: a@x.com', 'Subject: nobody']));
    drop(spool, 'broken.json', '{"recipient": ');
    drop(spool, 'invalid.json', JSON.stringify({ envelope: 'a@x.com', mime: 'x' }));
    await until(() => ['norcpt.eml', 'broken.json', 'invalid.json'].every((f) => existsSync(join(failed, `${f}.reason`))));
    assert.match(readFileSync(join(failed, 'norcpt.eml.reason'), 'utf8'), /no recipients/);
    assert.match(readFileSync(join(failed, 'broken.json.reason'), 'utf8'), /not valid JSON/);
    assert.match(readFileSync(join(failed, 'invalid.json.reason'), 'utf8'), /recipient/);
    assert.equal(readFileSync(join(failed, 'broken.json'), 'utf8'), '{"recipient": ', 'moved as it was');
    assert.deepEqual(leftovers(), []);
    const failures = (): Array<Record<string, unknown>> => processes.flatMap((p) => p.logs).filter((l) => l['msg'] === 'spool file not injected, moved to spool-fail-directory');
    await until(() => failures().length >= 3);
    const logged = failures();
    assert.deepEqual(logged.map((l) => l['file']).sort(), ['broken.json', 'invalid.json', 'norcpt.eml']);
    assert.equal(await broker.count(inbox), 0);
  });

  test('a claim left by a process of this host that is gone is given back and injected', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const pid = Number(gone.stdout.toString());
    const host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
    drop(spool, `.mtaq-claim.${host}.${pid}.deadbeef.orphan.eml`, mime(['From: a@x.com', 'To: orphan@y.org']));
    const [doc] = await broker.takeJson(inbox, 1, 5000);
    assert.equal(doc?.['recipient'], 'orphan@y.org');
    assert.equal((doc?.['spool'] as { file: string }).file, 'orphan.eml');
    await until(() => leftovers().length === 0);
  });

  test('spool-delay leaves a file alone until it is that old; spool-remove false moves it to injected/', async () => {
    const slow = join(root, 'slow');
    await startIngress(['spool-delay: 1', 'spool-remove: false'], slow);
    drop(slow, 'late.eml', mime(['From: a@x.com', 'To: late@y.org']));
    await sleep(500);
    assert.ok(existsSync(join(slow, 'late.eml')), 'still waiting');
    assert.equal(await broker.count(inbox), 0);
    const [doc] = await broker.takeJson(inbox, 1, 4000);
    assert.equal(doc?.['recipient'], 'late@y.org');
    await until(() => existsSync(join(slow, 'injected', 'late.eml')));
    assert.deepEqual(leftovers(slow), []);
  });

  test('broker trouble: files wait while it is gone; an unconfirmed publish gives the file back; each injected once when it is back', async () => {
    const proxy = new TcpProxy(new URL(AMQP_URL).port ? Number(new URL(AMQP_URL).port) : 5672);
    const port = await proxy.start();
    const dir = join(root, 'trouble');
    const url = new URL(AMQP_URL);
    url.host = `127.0.0.1:${port}`;
    const mtaq = await startIngress(['rabbitmq-reconnect-delay: 0.2', 'rabbitmq-publish-timeout: 0.5'], dir, url.href);
    try {
      // a broker that stops answering: the publish is not confirmed, the file is given back
      proxy.freeze();
      drop(dir, 'stalled.eml', mime(['From: a@x.com', 'To: stalled@y.org']));
      await until(() => mtaq.logs.some((l) => l['msg'] === 'spool file not injected, tried again later'), 5000);
      assert.ok(existsSync(join(dir, 'stalled.eml')), 'back under its name');
      // a broker that is gone: nothing is claimed meanwhile
      await proxy.cut();
      drop(dir, 'waiting.eml', mime(['From: a@x.com', 'To: waiting@y.org']));
      await sleep(700);
      assert.deepEqual(leftovers(dir).sort(), ['stalled.eml', 'waiting.eml']);
      await proxy.restore();
      const docs = await broker.takeJson(inbox, 2, 10_000);
      assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['stalled@y.org', 'waiting@y.org']);
      await until(() => leftovers(dir).length === 0);
      await sleep(300);
      assert.equal(await broker.count(inbox), 0, 'each once');
    } finally {
      await proxy.cut();
    }
  });
});
