import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { SmtpTalk } from './helpers/smtp.js';
import { TestSink } from './helpers/smtp-sink.js';

// send-log-file and received-log-file from real mail: SMTP into `mtaq pipeline`, delivered to a sink
// that refuses one recipient, the lines read back from the files; then logrotate's two ways.

const SEND_FORMAT =
  '{$attempt} {$result.state}:{$result.result} <{$email.envelope}> <{$email.recipient}> {$result.code}' +
  '{if $result.code == 250} delivered{elseif $result.code >= 500} refused: {$result.description}{else} later{/if} [{$email.tags}] {$nonsense}';
const RECEIVED_FORMAT = '{$time} {$json.recipient} {$json}';

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

async function waitForLines(path: string, count: number, ms = 10000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const got = lines(path);
    if (got.length >= count) return got;
    if (Date.now() > end) throw new Error(`${path}: ${got.length} of ${count} lines:\n${got.join('\n')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('send-log-file and received-log-file', () => {
  let broker: TestBroker;
  let redis: PrivateRedis;
  let upstream: TestSink;
  let mtaq: MtaqProcess;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-logs-'));
  const sendLog = join(dir, 'send.log');
  const receivedLog = join(dir, 'received.log');
  const outbox = uniqueName('logs-outbox');
  const queues = [outbox, `${outbox}-results`, `${outbox}-failure`, `${outbox}-retry`];

  async function send(from: string, to: string[], subject: string): Promise<void> {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.test');
    const reply = await smtp.send(from, to, `From: ${from}\r\nTo: ${to.join(', ')}\r\nSubject: ${subject}\r\nX-Mq-Tag: t1\r\nX-Mq-Tag: t2\r\n\r\nHello\r\n`);
    assert.equal(reply.code, 250, reply.text);
    await smtp.quit();
  }

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    upstream = await TestSink.start({
      host: '127.0.0.1',
      decide: (stage, { address }) => (stage === 'rcpt' && address?.startsWith('nobody@') ? { code: 550, message: '5.1.1 no such user' } : undefined),
    });
    port = await freePort();
    const config = writeConfig(
      [
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        `rabbitmq-inbox: ${outbox}`,
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-results: ${outbox}-results`,
        `rabbitmq-failure: ${outbox}-failure`,
        `rabbitmq-retry: ${outbox}-retry`,
        `redis-address: ${redis.url}`,
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${port}`,
        'smtp-range: 127.0.0.0/8',
        'smtp-extract: true',
        'smtp-hostname: mtaq.test',
        'smtp-default-ips: 127.0.0.1',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${upstream.port}`,
        `send-log-file: ${sendLog}`,
        `send-log-format: ${SEND_FORMAT}`,
        `received-log-file: ${receivedLog}`,
        `received-log-format: ${RECEIVED_FORMAT}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('pipeline', ['--config-file', config]);
  });

  after(async () => {
    await mtaq?.stop();
    await upstream?.close();
    await broker?.deleteQueues(...queues).catch(() => undefined);
    await broker?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a line per attempt and a line per received document; SIGHUP and rotation start new files', async () => {
    // the unknown {$nonsense} is named at start-up and prints as nothing
    const warning = mtaq.logs.find((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('send-log-format: unknown variable {$nonsense}'));
    assert.ok(warning, 'start-up warning for {$nonsense}');

    await send('alice@example.com', ['bob@x.test', 'nobody@x.test'], 'first');
    await send('carol@example.com', ['dave@x.test'], 'second');

    const received = await waitForLines(receivedLog, 3);
    assert.equal(received.length, 3, 'one line per recipient document');
    const docs = received.map((line) => {
      const m = /^(\d+) (\S+) (\{.*\})$/.exec(line);
      assert.ok(m, line);
      assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 60, '$time is Unix seconds');
      const json = JSON.parse(m[3]!) as Record<string, unknown>;
      assert.equal(json['recipient'], m[2], '{$json.recipient} reaches into the document');
      assert.ok(!('mime' in json), 'the message itself is not logged');
      assert.equal(typeof json['message-id'], 'string');
      return json;
    });
    assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['bob@x.test', 'dave@x.test', 'nobody@x.test']);
    assert.deepEqual(docs.map((d) => d['envelope']).sort(), ['alice@example.com', 'alice@example.com', 'carol@example.com']);

    const sent = (await waitForLines(sendLog, 3)).sort();
    assert.deepEqual(sent, [
      '1 message:accepted <alice@example.com> <bob@x.test> 250 delivered [t1,t2] ',
      '1 message:accepted <carol@example.com> <dave@x.test> 250 delivered [t1,t2] ',
      '1 rcptto:error <alice@example.com> <nobody@x.test> 550 refused: no such user [t1,t2] ',
    ]);

    // logrotate with postrotate `kill -HUP`: the next lines go to a new file
    renameSync(sendLog, `${sendLog}.1`);
    mtaq.child.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!existsSync(sendLog) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(sendLog), 'SIGHUP reopened (created) send-log-file');
    // without a signal: the received log renamed away is noticed at the next write
    renameSync(receivedLog, `${receivedLog}.1`);
    await send('erin@example.com', ['frank@x.test'], 'third');
    assert.deepEqual(await waitForLines(sendLog, 1), ['1 message:accepted <erin@example.com> <frank@x.test> 250 delivered [t1,t2] ']);
    assert.match((await waitForLines(receivedLog, 1))[0]!, /^\d+ frank@x\.test \{/);
    assert.equal(lines(`${sendLog}.1`).length, 3);
    assert.equal(lines(`${receivedLog}.1`).length, 3);
    assert.equal(mtaq.child.exitCode, null, 'SIGHUP does not stop the process');
  });
});
