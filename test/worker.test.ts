import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { ROOT, runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { TestSink } from './helpers/smtp-sink.js';

type Doc = Record<string, unknown>;

const EXAMPLES = join(ROOT, 'examples', 'workers');
const MIME = (to: string): string =>
  `From: sender@example.com\r\nTo: ${to}\r\nSubject: worker test\r\nX-Internal: secret\r\nMessage-ID: <w@example.com>\r\n\r\nHello\r\n`;

/** A config file for `mtaq worker` (plus the test's own lines). */
function workerConfig(lines: string[]): string {
  return writeConfig(['rabbitmq-address: amqp://guest:guest@127.0.0.1/', 'rabbitmq-persistent: true', ...lines].join('\n'));
}

/** A script file of the test's own. */
function script(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-worker-'));
  const file = join(dir, 'script.mjs');
  writeFileSync(file, text);
  return file;
}

interface Child {
  readonly child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts an example program (node or python, never through npm) and waits for its "consuming" line. */
async function startExample(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Child> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, MTAQ_URL: AMQP_URL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!/"msg": ?"consuming"/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${args[0]} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      if (child.signalCode !== null) return child.signalCode;
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      child.kill(signal);
      const [code, sig] = await exited;
      return code ?? sig ?? -1;
    },
  };
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mtaq worker and the consumer examples', () => {
  let broker: TestBroker;
  const queues: string[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];

  function queue(prefix: string): string {
    const name = uniqueName(prefix);
    queues.push(name, `${name}.failed`);
    return name;
  }

  async function worker(file: string, input: string, output: string, lines: string[] = []): Promise<MtaqProcess> {
    const config = workerConfig([`rabbitmq-inbox: ${input}`, `rabbitmq-outbox: ${output}`, ...lines]);
    const mtaq = await startMtaq('worker', ['--config-file', config, '--script', file], { ready: 'working' });
    cleanup.push(() => mtaq.stop('SIGKILL'));
    return mtaq;
  }

  before(async () => {
    broker = await TestBroker.open();
  });

  after(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    await broker.deleteQueues(...queues);
    await broker.close();
  });

  test('refuses to start when rabbitmq-inbox and rabbitmq-outbox name the same queue (exit 78, one line)', async () => {
    const config = workerConfig([]);
    // both default to "outbox"
    const defaults = await runCli(['worker', '--config-file', config, '--script', join(EXAMPLES, 'filter.mjs')]);
    assert.equal(defaults.code, 78);
    assert.match(defaults.stderr, /^mtaq: rabbitmq-inbox and rabbitmq-outbox both name the queue "outbox".*rabbitmq-inbox: inbox/);
    assert.equal(defaults.stderr.trim().split('\n').length, 1, defaults.stderr);
    const named = await runCli(['worker', '--config-file', config, '--script', join(EXAMPLES, 'filter.mjs'), '--rabbitmq-inbox', 'q1', '--rabbitmq-outbox', 'q1']);
    assert.equal(named.code, 78);
    assert.match(named.stderr, /both name the queue "q1"/);
    const noScript = await runCli(['worker', '--config-file', config, '--rabbitmq-inbox', 'q1', '--rabbitmq-outbox', 'q2']);
    assert.equal(noScript.code, 78);
    assert.match(noScript.stderr, /^mtaq: no script/);
  });

  test('chain: ingress → mtaq worker (filter.mjs) → Python worker → delivery → SMTP sink', async () => {
    const a = queue('chain-a');
    const b = queue('chain-b');
    const c = queue('chain-c');
    const success = queue('chain-success');
    const sink = await TestSink.start();
    cleanup.push(() => sink.close());
    const port = await freePort();
    const ingressConfig = writeConfig(
      [
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${port}`,
        'smtp-hostname: mx.test.example',
        'smtp-range: 127.0.0.0/8',
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        `rabbitmq-inbox: ${a}`,
        `rabbitmq-outbox: ${c}`,
        'rabbitmq-persistent: true',
      ].join('\n'),
    );
    const ingress = await startMtaq('ingress', ['--config-file', ingressConfig]);
    cleanup.push(() => ingress.stop());
    await worker(join(EXAMPLES, 'filter.mjs'), a, b);
    const python = await startExample('/usr/bin/python3', [join(EXAMPLES, 'pika_worker.py')], { IN: b, OUT: c });
    cleanup.push(() => python.stop('SIGKILL'));
    const deliveryConfig = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        'rabbitmq-persistent: true',
        `rabbitmq-outbox: ${c}`,
        `rabbitmq-inbox: ${a}`,
        `rabbitmq-success: ${success}`,
        'smtp-hostname: mtaq.test',
        'smtp-default-ips: 127.0.0.1',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
      ].join('\n'),
    );
    const delivery = await startMtaq('delivery', ['--config-file', deliveryConfig]);
    cleanup.push(() => delivery.stop());

    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    await transport.sendMail({
      envelope: { from: 'sender@example.com', to: ['one@dest.test', 'gone@blocked.example', 'two@dest.test'] },
      raw: MIME('one@dest.test'),
    });
    transport.close();

    await sink.waitFor(2, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // a third message would arrive by now
    const recipients = sink.received.flatMap((m) => m.to).sort();
    assert.deepEqual(recipients, ['one@dest.test', 'two@dest.test'], 'the dropped recipient never arrived');
    for (const message of sink.received) {
      assert.match(message.mime, /^X-Filtered: mtaq-worker\r?$/m, 'the JS worker\'s header edit was applied');
      assert.match(message.mime, /^X-Python-Worker: pika\r?$/m, 'the Python worker\'s header edit was applied');
    }
    const results = await broker.takeJson(success, 2, 10_000);
    assert.equal(results.length, 2);
    for (const result of results) {
      assert.deepEqual(result['tags'], ['filtered']);
      assert.match(String(result['message-id']), /^[a-z0-9]+\.0$/, 'output id = input id + "." + index');
      assert.deepEqual((result['headers'] as Doc)['append'], { 'X-Filtered': 'mtaq-worker', 'X-Python-Worker': 'pika' });
    }
    assert.equal(await python.stop(), 0, 'the Python worker stops on SIGTERM');
  });

  test('a script that throws puts the message on <input>.failed with a process/error entry; null drops', async () => {
    const input = queue('throws-in');
    const output = queue('throws-out');
    const file = script(`export default async (message) => {
      if (message.recipient.startsWith('drop')) return null;
      throw new Error('no customer for ' + message.recipient);
    };`);
    const mtaq = await worker(file, input, output);
    await broker.publishJson(input, { 'message-id': 'abc12345', recipient: 'bad@x.test', mime: MIME('bad@x.test'), 'my-ref': 7 });
    await broker.publishJson(input, { 'message-id': 'abc12346', recipient: 'drop@x.test', mime: MIME('drop@x.test') });
    const [failed] = await broker.takeJson(`${input}.failed`, 1, 10_000);
    assert.ok(failed, 'the message reached the failure queue');
    assert.equal(failed['my-ref'], 7, 'custom properties kept');
    const entry = (failed['results'] as Doc[]).at(-1)!;
    assert.equal(entry['state'], 'process');
    assert.equal(entry['result'], 'error');
    assert.equal(entry['description'], 'no customer for bad@x.test');
    await waitUntil('the drop', () => mtaq.logs.some((l) => l['msg'] === 'script dropped the message'));
    assert.equal(await broker.count(output), 0);
    assert.equal(await broker.count(input), 0, 'nothing requeued');
    assert.equal(await mtaq.stop(), 0, 'exit 0 on SIGTERM');
    assert.deepEqual(mtaq.logs.find((l) => l['msg'] === 'worker stopped')?.['failed'], 1);
  });

  test('a script output that is no valid message fails the input with the reason; nothing reaches the outbox', async () => {
    const input = queue('badout-in');
    const output = queue('badout-out');
    const file = script(`export default async (message) => ({ ...message, recipient: 'bob@x.test\\r\\nRCPT TO:<evil@x.test>', tags: 'not-a-list' });`);
    const mtaq = await worker(file, input, output);
    await broker.publishJson(input, { 'message-id': 'abc22345', recipient: 'bob@x.test', mime: MIME('bob@x.test') });
    const [failed] = await broker.takeJson(`${input}.failed`, 1, 10_000);
    assert.ok(failed, 'the input reached the failure queue');
    assert.equal(failed['recipient'], 'bob@x.test', 'as it came in');
    assert.match(String((failed['results'] as Doc[]).at(-1)!['description']), /^script output 0 is not a valid message: /);
    assert.equal(await broker.count(output), 0);
    assert.equal(await mtaq.stop(), 0);
  });

  test('transient errors are retried worker-retries times through a delay queue, then failed', async () => {
    const input = queue('retry-in');
    const output = queue('retry-out');
    queues.push(`${input}.delay.1`);
    const file = script(`export default async (message, context) => {
      if (message.recipient === 'later@x.test' && context.attempt < 3) context.retry(new Error('crm busy'));
      if (message.recipient === 'never@x.test') throw Object.assign(new Error('crm down'), { transient: true });
      return { ...message, attempts: context.attempt };
    };`);
    await worker(file, input, output, ['worker-retries: 2', 'worker-retry-delay: 1']);
    const started = Date.now();
    await broker.publishJson(input, { 'message-id': 'r0000001', recipient: 'later@x.test', mime: MIME('later@x.test') });
    await broker.publishJson(input, { 'message-id': 'r0000002', recipient: 'never@x.test', mime: MIME('never@x.test') });
    const [done] = await broker.takeJson(output, 1, 15_000);
    assert.equal(done?.['attempts'], 3, 'succeeded on the third attempt');
    assert.equal(done?.['message-id'], 'r0000001.0');
    const [failed] = await broker.takeJson(`${input}.failed`, 1, 15_000);
    assert.ok(failed, 'gave up onto the failure queue');
    assert.equal((failed['results'] as Doc[]).at(-1)!['description'], 'crm down (gave up after 3 attempts)');
    assert.ok(Date.now() - started >= 2000, 'two delays of a second each');
    assert.equal(await broker.count(input), 0);
  });

  test('kill -9 of a worker mid-stream loses nothing (duplicates counted)', async () => {
    const input = queue('kill-in');
    const output = queue('kill-out');
    const total = 400;
    const file = script(`export default async (message) => { await new Promise((r) => setTimeout(r, 5)); return [message, { ...message, copy: true }]; };`);
    await broker.channel.assertQueue(input, { durable: true });
    for (let i = 0; i < total; i++) {
      const doc = { 'message-id': `k${String(i).padStart(7, '0')}`, recipient: `r${i}@x.test`, mime: MIME('r@x.test') };
      // every other one gzipped, as rabbitmq-encoding: gzip producers send them
      const body = Buffer.from(JSON.stringify(doc));
      if (i % 2) broker.channel.sendToQueue(input, gzipSync(body), { persistent: true, contentEncoding: 'gzip' });
      else broker.channel.sendToQueue(input, body, { persistent: true });
    }
    const first = await worker(file, input, output, ['rabbitmq-qos: 50', 'worker-concurrency: 10']);
    await waitUntil('some output', async () => (await broker.count(output)) >= 200);
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    const second = await worker(file, input, output, ['rabbitmq-qos: 50', 'worker-concurrency: 10']);
    const seen = new Map<string, number>();
    await waitUntil('every output', async () => {
      for (const m of await broker.take(output, 1000, 200)) {
        const id = String((JSON.parse(m.content.toString()) as Doc)['message-id']);
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      return seen.size >= 2 * total;
    }, 30_000);
    const duplicates = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
    console.log(`kill -9: ${2 * total} outputs expected, ${seen.size} distinct, ${duplicates.length} duplicated: ${duplicates.join(' ') || 'none'}`);
    for (let i = 0; i < total; i++) {
      for (const index of [0, 1]) assert.ok(seen.has(`k${String(i).padStart(7, '0')}.${index}`), `output ${i}.${index} is missing`);
    }
    assert.equal(await second.stop(), 0);
    assert.equal(await broker.count(input), 0);
  });

  test('examples/workers/sdk-headers.mjs edits headers (gzip input honoured) and stops on SIGTERM', async () => {
    const input = queue('sdk-in');
    const output = queue('sdk-out');
    const program = await startExample(process.execPath, [join(EXAMPLES, 'sdk-headers.mjs')], { IN: input, OUT: output });
    cleanup.push(() => program.stop('SIGKILL'));
    const doc = { 'message-id': 's0000001', recipient: 'a@x.test', mime: MIME('a@x.test'), headers: { remove: 'bcc' } };
    broker.channel.sendToQueue(input, gzipSync(JSON.stringify(doc)), { persistent: true, contentEncoding: 'gzip' });
    const [out] = await broker.takeJson(output, 1, 10_000);
    assert.deepEqual(out?.['headers'], { remove: ['bcc', 'X-Internal'], append: { 'X-Processed-By': 'sdk-headers' } });
    assert.equal(await program.stop(), 0);
    assert.equal(await broker.count(input), 0, 'acknowledged');
  });

  test('examples/workers/maildir.mjs stores local mail in Maildirs (tmp/ → new/, unique names)', async () => {
    const input = queue('maildir-in');
    const root = mkdtempSync(join(tmpdir(), 'mtaq-maildir-'));
    await broker.channel.assertQueue(input, { durable: true });
    const program = await startExample(process.execPath, [join(EXAMPLES, 'maildir.mjs')], { IN: input, MAILDIR: root });
    cleanup.push(() => program.stop('SIGKILL'));
    for (const id of ['m0000001', 'm0000002']) await broker.publishJson(input, { 'message-id': id, recipient: 'Bob@local.test', mime: MIME('bob@local.test') });
    const box = join(root, 'bob@local.test');
    await waitUntil('two files in new/', () => {
      try {
        return readdirSync(join(box, 'new')).length === 2;
      } catch {
        return false;
      }
    });
    const names = readdirSync(join(box, 'new'));
    assert.equal(new Set(names).size, 2);
    for (const name of names) assert.equal(readFileSync(join(box, 'new', name), 'utf8'), MIME('bob@local.test'));
    assert.deepEqual(readdirSync(join(box, 'tmp')), [], 'nothing left in tmp/');
    assert.equal(await program.stop(), 0);
  });
});
