import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { CLI, ROOT } from './helpers/process.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node apps/cli/dist/main.js inject …`, with `stdin` written to it (and closed). */
async function inject(args: string[], stdin?: string): Promise<Run> {
  const child = spawn(process.execPath, [CLI, 'inject', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin ?? '');
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

const MESSAGE = ['Return-Path: <b@x.com>', 'From: a@x.com', 'To: t1@y.org', 'Cc: c1@y.org', 'Bcc: hidden@y.org', 'X-MQ-Tag: cli', 'Subject: inject', '', 'Hello', ''].join('\r\n');

/** `mtaq inject` (reference §3 `cli`, §5: x-mq-* always extracted) against real RabbitMQ. */
describe('mtaq inject', () => {
  const inbox = uniqueName('inject-inbox');
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-inject-'));
  const config = join(dir, 'mtaq.conf');
  const eml = join(dir, 'message.eml');
  const base = ['--config-file', config];
  let broker: TestBroker;

  before(async () => {
    broker = await TestBroker.open();
    writeFileSync(config, [`rabbitmq-address: ${AMQP_URL}`, `rabbitmq-inbox: ${inbox}`, 'smtp-hostname: cli.ours.test', 'redis-address:'].join('\n'));
    writeFileSync(eml, MESSAGE);
  });

  after(async () => {
    await broker.deleteQueues(inbox);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a MIME file: one document per To/Cc/Bcc address, Bcc removed, envelope from Return-Path, the cli property', async () => {
    const run = await inject([eml, ...base]);
    assert.equal(run.code, 0, run.stderr);
    const printed = run.stdout.trim().split('\n').map((line) => line.split(' '));
    assert.deepEqual(printed.map(([, rcpt]) => rcpt), ['t1@y.org', 'c1@y.org', 'hidden@y.org']);
    const docs = await broker.takeJson(inbox, 3);
    assert.deepEqual(docs.map((d) => [d['message-id'], d['recipient']]), printed);
    for (const doc of docs) {
      assert.equal(doc['envelope'], 'b@x.com');
      assert.equal(doc['hostname'], 'cli.ours.test');
      assert.deepEqual(doc['tags'], ['cli']);
      assert.doesNotMatch(String(doc['mime']), /^(Bcc|X-MQ-Tag):/im);
      assert.match(String(doc['mime']), /^Subject: inject\r\n/m);
      assert.deepEqual(doc['cli'], { command: 'mtaq inject', arguments: [eml], user: userInfo().username });
      assert.equal(doc['connection'], undefined);
    }
  });

  test('MIME on stdin with --envelope and repeated --recipient: those instead of the headers', async () => {
    const run = await inject(['--envelope', 'sender@x.com', '--recipient', 'one@y.org', '--recipient', 'two@y.org', ...base], MESSAGE);
    assert.equal(run.code, 0, run.stderr);
    const docs = await broker.takeJson(inbox, 2);
    assert.deepEqual(docs.map((d) => d['recipient']), ['one@y.org', 'two@y.org']);
    assert.ok(docs.every((d) => d['envelope'] === 'sender@x.com'));
    assert.deepEqual(docs[0]?.['cli'], {
      command: 'mtaq inject',
      arguments: ['--envelope', 'sender@x.com', '--recipient', 'one@y.org', '--recipient', 'two@y.org'],
      user: userInfo().username,
    });
    assert.equal(await broker.count(inbox), 0, 'Bcc and To addresses are not used when --recipient is given');
  });

  test('JSON from stdin ("-") and from a file; --recipient gives one copy each, --envelope "" the null sender', async () => {
    const document = { recipient: 'j@y.org', envelope: 'e@x.com', mime: 'From: e@x.com\r\n\r\nHi', tags: ['json'], 'my-ref': 7 };
    const fromStdin = await inject(['-', ...base], JSON.stringify(document));
    assert.equal(fromStdin.code, 0, fromStdin.stderr);
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal(doc?.['recipient'], 'j@y.org');
    assert.equal(doc?.['envelope'], 'e@x.com');
    assert.equal(doc?.['mime'], document.mime);
    assert.equal(doc?.['my-ref'], 7);
    assert.deepEqual((doc?.['cli'] as { arguments: string[] }).arguments, ['-']);

    const file = join(dir, 'doc.json');
    writeFileSync(file, JSON.stringify(document));
    const fromFile = await inject([file, '--recipient', 'k@y.org,l@y.org', '--envelope', '', ...base]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const docs = await broker.takeJson(inbox, 2);
    assert.deepEqual(docs.map((d) => d['recipient']), ['k@y.org', 'l@y.org']);
    assert.ok(docs.every((d) => d['envelope'] === '' && d['my-ref'] === 7));
  });

  test('exit codes: 66 missing file, 65 unusable input, 2 bad usage, 69 broker unreachable; nothing queued', async () => {
    const missing = await inject([join(dir, 'nope.eml'), ...base]);
    assert.equal(missing.code, 66);
    assert.match(missing.stderr, /cannot read .*nope\.eml: ENOENT/);
    const badJson = await inject([...base], '{"recipient": ');
    assert.equal(badJson.code, 65);
    assert.match(badJson.stderr, /not valid JSON/);
    const noRecipient = await inject([...base], 'From: a@x.com\r\nSubject: x\r\n\r\nbody\r\n');
    assert.equal(noRecipient.code, 65);
    assert.match(noRecipient.stderr, /no recipients/);
    const twoFiles = await inject([eml, eml, ...base]);
    assert.equal(twoFiles.code, 2);
    const unreachable = await inject([eml, ...base, '--rabbitmq-address', 'amqp://127.0.0.1:1/']);
    assert.equal(unreachable.code, 69);
    assert.match(unreachable.stderr, /cannot reach RabbitMQ at amqp:\/\/127\.0\.0\.1:1\//);
    assert.equal(await broker.count(inbox), 0);
  });

  test('mtaq inject --help', async () => {
    const help = await inject(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: mtaq inject \[FILE\|-\] \[--envelope ADDR\] \[--recipient ADDR\]/);
    assert.match(help.stdout, /65 unusable input, 66 file unreadable, 69 RabbitMQ unreachable/);
  });
});
