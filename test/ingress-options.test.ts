import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';

const run = promisify(execFile);

async function ingress(lines: string[]): Promise<{ mtaq: MtaqProcess; port: number }> {
  const port = await freePort();
  const config = writeConfig([`smtp-ip: 127.0.0.1`, `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', ...lines].join('\n'));
  return { mtaq: await startMtaq('ingress', ['--config-file', config]), port };
}

/** Waits for a log line to arrive (they are written asynchronously); fails after `timeoutMs`. */
async function logged(check: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function open(port: number, host = '127.0.0.1'): Promise<SmtpTalk> {
  const smtp = await SmtpTalk.connect(port, host);
  assert.equal((await smtp.read()).code, 220);
  await smtp.command('EHLO client.example');
  return smtp;
}

describe('ingress options', () => {
  let broker: TestBroker;
  const queues: string[] = [];
  const processes: MtaqProcess[] = [];
  const inbox = (prefix: string): string => {
    const name = uniqueName(prefix);
    queues.push(name);
    return name;
  };

  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    for (const p of processes) await p.stop();
    await broker.deleteQueues(...queues);
    await broker.close();
  });

  test('C10 client outside smtp-range → 554 5.7.1 and close, nothing published', async () => {
    const q = inbox('range');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`, 'smtp-ip: 127.0.0.1;127.0.0.5', 'smtp-range: 127.0.0.1']);
    processes.push(mtaq);
    // the listener on 127.0.0.5 sees the client as 127.0.0.5 when it binds there
    const refused = await SmtpTalk.connect(port, '127.0.0.5', { localAddress: '127.0.0.5' });
    const reply = await refused.read();
    assert.equal(reply.code, 554);
    assert.match(reply.lines[0]!, /^554 5\.7\.1 /);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(refused.isClosed, 'connection closed after the refusal');
    const allowed = await open(port);
    assert.equal((await allowed.send('a@example.com', ['b@example.org'], 'Subject: in range\r\n\r\nx\r\n')).code, 250);
    await allowed.quit();
    assert.equal((await broker.takeJson(q, 2, 1000)).length, 1);
  });

  test('C18 empty rabbitmq-inbox → 250 and nothing published', async () => {
    const { mtaq, port } = await ingress(['rabbitmq-inbox:']);
    processes.push(mtaq);
    const smtp = await open(port);
    const reply = await smtp.send('a@example.com', ['b@example.org'], 'Subject: dropped\r\n\r\nx\r\n');
    await smtp.quit();
    assert.equal(reply.code, 250);
  });

  test('C19 loose address validation accepts a..b@example.com', async () => {
    const q = inbox('loose');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`, 'smtp-validate-address: loose']);
    processes.push(mtaq);
    const smtp = await open(port);
    const reply = await smtp.send('a@example.com', ['a..b@example.com'], 'Subject: loose\r\n\r\nx\r\n');
    await smtp.quit();
    assert.equal(reply.code, 250, reply.text);
    const [doc] = await broker.takeJson(q, 1);
    assert.equal(doc!['recipient'], 'a..b@example.com');
  });

  test('C35 smtp-extract false leaves x-mq headers alone', async () => {
    const q = inbox('noextract');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`, 'smtp-extract: false']);
    processes.push(mtaq);
    const smtp = await open(port);
    const headers = 'X-MQ-IP: 10.20.30.40\r\nx-mq-maxdelivertime: 2031-06-30 12:00:00\r\nx-mq-inlinecss: 1\r\nx-mq-campaign-ref: spring-7\r\n';
    await smtp.send('a@example.com', ['b@example.org'], `${headers}Subject: c35\r\n\r\nx\r\n`);
    await smtp.quit();
    const [doc] = await broker.takeJson(q, 1);
    for (const key of ['maxdelivertime', 'inlinecss', 'campaign-ref']) assert.ok(!(key in doc!), key);
    assert.ok(!('ips' in doc!), '127.0.0.1 is not mappable without smtp-mappable-ips');
    assert.ok((doc!['mime'] as string).includes(headers));
  });

  test('smtp-greeting-delay holds the greeting; exempt ranges and early talkers', async () => {
    const q = inbox('delay');
    const { mtaq, port } = await ingress([
      `rabbitmq-inbox: ${q}`,
      'smtp-ip: 127.0.0.1;127.0.0.6',
      'smtp-greeting-delay: 0.4',
      'smtp-greeting-delay-exempt: 127.0.0.1',
    ]);
    processes.push(mtaq);
    let started = Date.now();
    const exempt = await SmtpTalk.connect(port, '127.0.0.1');
    await exempt.read();
    assert.ok(Date.now() - started < 300, 'exempt client is greeted at once');
    await exempt.quit();

    started = Date.now();
    const delayed = await SmtpTalk.connect(port, '127.0.0.6', { localAddress: '127.0.0.6' });
    await delayed.read();
    assert.ok(Date.now() - started >= 380, 'other clients wait for the greeting');
    await delayed.quit();

    const early = await SmtpTalk.connect(port, '127.0.0.6', { localAddress: '127.0.0.6' });
    early.write('EHLO too.early\r\n');
    const first = await early.read();
    const second = await early.read().catch(() => undefined);
    const codes = [first.code, second?.code];
    assert.ok(codes.includes(421), `an early talker is refused: ${JSON.stringify([first, second])}`);
    await early.quit();
  });

  test('smtp-threads 2 runs two ingress processes on one port', async () => {
    const q = inbox('threads');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`, 'smtp-threads: 2']);
    processes.push(mtaq);
    const primary = mtaq.child.pid;
    const pidsOf = (msg: string): Set<unknown> => new Set(mtaq.logs.filter((l) => l['msg'] === msg && l['pid'] !== primary).map((l) => l['pid']));
    // The primary logs `listening` once both workers have told it so over IPC; their own log lines
    // come through the shared stdout, written asynchronously, and may still be on their way.
    await logged(() => pidsOf('listening').size === 2, 'both workers log listening');
    const workers = pidsOf('listening');
    assert.deepEqual(pidsOf('starting ingress'), workers, 'two worker processes started');
    // Both workers accept from the shared socket, whichever is first to it (SCHED_NONE): sessions
    // opened together land on both. Each message is traced to the worker that queued it by its id.
    const served = new Set<unknown>();
    let sent = 0;
    for (let round = 0; round < 10 && served.size < 2; round++) {
      const sessions = await Promise.all(Array.from({ length: 8 }, () => open(port)));
      const replies = await Promise.all(sessions.map((smtp, i) => smtp.send('a@example.com', [`r${round}-${i}@example.org`], 'Subject: t\r\n\r\nx\r\n')));
      await Promise.all(sessions.map((smtp) => smtp.quit()));
      for (const reply of replies) {
        assert.equal(reply.code, 250, reply.text);
        sent++;
        const mid = /([a-z0-9]{8,}) for r[\d-]+@example\.org/.exec(reply.text)?.[1];
        assert.ok(mid, `a message id in ${reply.text}`);
        const queued = (): Record<string, unknown> | undefined =>
          mtaq.logs.find((l) => l['msg'] === 'queued' && (l['mids'] as unknown[] | undefined)?.includes(mid));
        await logged(() => queued() !== undefined, `the queued line of ${mid}`);
        served.add(queued()!['pid']);
      }
    }
    assert.deepEqual(served, workers, `both workers took sessions (${sent} sent)`);
    assert.equal((await broker.takeJson(q, sent)).length, sent);
  });

  test('SIGTERM: the transaction in flight completes, then the process exits 0', async () => {
    const q = inbox('sigterm');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`]);
    const smtp = await open(port);
    await smtp.command('MAIL FROM:<a@example.com>');
    await smtp.command('RCPT TO:<b@example.org>');
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('Subject: in flight\r\n\r\nfirst half\r\n');
    const exited = mtaq.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const late = await SmtpTalk.connect(port).then(
      (s) => s.read(1000).then((r) => r.code, () => 0).finally(() => s.quit()),
      () => -1,
    );
    assert.ok(late !== 220, 'no new sessions once stopping');
    smtp.write('second half\r\n.\r\n');
    const reply = await smtp.read();
    assert.equal(reply.code, 250);
    await smtp.quit();
    assert.equal(await exited, 0);
    const [doc] = await broker.takeJson(q, 1);
    assert.match(doc!['mime'] as string, /first half\r\nsecond half/);
  });

  test('swaks sends a message that lands in the inbox', async (t) => {
    const q = inbox('swaks');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`]);
    processes.push(mtaq);
    const swaks = await run('swaks', [
      '--server', `127.0.0.1:${port}`, '--from', 'swaks@example.com', '--to', 'rcpt@example.org',
      '--header', 'Subject: from swaks', '--header', 'x-mq-tag: swaks', '--body', 'hello from swaks',
    ]).catch((err: Error) => {
      t.diagnostic(String(err));
      throw err;
    });
    assert.match(swaks.stdout, /^<- {2}250 2\.6\.0 [a-z0-9]{8,} for rcpt@example\.org$/m);
    const [doc] = await broker.takeJson(q, 1);
    assert.equal(doc!['envelope'], 'swaks@example.com');
    assert.equal(doc!['recipient'], 'rcpt@example.org');
    assert.deepEqual(doc!['tags'], ['swaks']);
    assert.match(doc!['mime'] as string, /Subject: from swaks/);
  });

  test("Python's smtplib sends a message that lands in the inbox", async () => {
    const q = inbox('python');
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${q}`]);
    processes.push(mtaq);
    const script = [
      'import smtplib, sys',
      'from email.message import EmailMessage',
      'm = EmailMessage(); m["From"] = "py@example.com"; m["To"] = "a@example.org, b@example.org"',
      'm["Subject"] = "from python"; m.set_content("hello")',
      `s = smtplib.SMTP("127.0.0.1", ${port}); s.ehlo("py.example")`,
      'refused = s.send_message(m); print(refused); s.quit()',
    ].join('\n');
    const out = await run('python3', ['-c', script]);
    assert.equal(out.stdout.trim(), '{}');
    const docs = await broker.takeJson(q, 2);
    assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['a@example.org', 'b@example.org']);
    assert.match(docs[0]!['mime'] as string, /Received: from py\.example/);
  });
});

describe('configuration errors', () => {
  test('a bad value names file, line and key; ingress exits non-zero', async () => {
    const file = writeConfig('# ok\nsmtp-port: 2525\nsmtp-maxsize: lots\n');
    const result = await runCli(['ingress', '--config-file', file]);
    assert.notEqual(result.code, 0);
    assert.ok(result.stderr.includes(`${file}:3`), result.stderr);
    assert.match(result.stderr, /smtp-maxsize/);
  });

  test('config check prints the effective config with secrets masked', async () => {
    const file = writeConfig('smtp-port: 2600\nrabbitmq-address: amqp://mq:hunter2@127.0.0.1/\nsmarthost-password: s3cret\n');
    const result = await runCli(['config', 'check', '--config-file', file, '--smtp-maxsize', '2048']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^smtp-port:\s+2600$/m);
    assert.match(result.stdout, /^smtp-maxsize:\s+2KB$/m);
    assert.ok(!result.stdout.includes('hunter2') && !result.stdout.includes('s3cret'), 'secrets masked');
  });

  test('an unknown key is a warning with file:line, not an error', async () => {
    const file = writeConfig('smtp-port: 2600\nsmtp-prot: 25\n');
    const result = await runCli(['config', 'check', '--config-file', file]);
    assert.equal(result.code, 0);
    assert.ok(result.stderr.includes(`${file}:2`), result.stderr);
  });

  test('C6 file < --config-file < command line < environment', async () => {
    const file = writeConfig('smtp-port: 2525\n');
    let result = await runCli(['config', 'check', '--config-file', file, '--smtp-port', '2626']);
    assert.match(result.stdout, /^smtp-port:\s+2626$/m);
    result = await runCli(['config', 'check', '--config-file', file, '--smtp-port=2626'], { MTAQ_SMTP_PORT: '2727' });
    assert.match(result.stdout, /^smtp-port:\s+2727$/m);
  });

  test('an unknown command-line option is refused', async () => {
    const result = await runCli(['config', 'check', '--config-file', writeConfig(''), '--no-such-key', '1']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /no-such-key/);
  });
});
