import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { CLI, ROOT, runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Connections under attack: caps that hold a connection without a greeting before refusing it,
 * a slow drip that no longer keeps a session alive, and a 421 rather than nothing near the
 * descriptor limit — each against a real `mtaq ingress` with a legitimate client beside it.
 */
describe('ingress: connections under attack', () => {
  let broker: TestBroker;
  const queues: string[] = [];
  const processes: MtaqProcess[] = [];

  async function ingress(lines: string[]): Promise<{ mtaq: MtaqProcess; port: number; inbox: string }> {
    const port = await freePort();
    const inbox = uniqueName('conn');
    queues.push(inbox);
    const config = writeConfig(['smtp-ip: 127.0.0.1', `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', `rabbitmq-inbox: ${inbox}`, ...lines].join('\n'));
    const mtaq = await startMtaq('ingress', ['--config-file', config]);
    processes.push(mtaq);
    return { mtaq, port, inbox };
  }

  /** A legitimate client: connect, one message, quit; the reply codes in order. */
  async function legitimate(port: number): Promise<number[]> {
    const smtp = await SmtpTalk.connect(port);
    const codes = [(await smtp.read(10000)).code];
    codes.push((await smtp.command('EHLO ok.example')).code);
    codes.push((await smtp.send('a@example.com', ['b@example.org'], 'Subject: ok\r\n\r\nfine\r\n')).code);
    await smtp.quit();
    return codes;
  }

  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    for (const p of processes) await p.stop();
    await broker.deleteQueues(...queues);
    await broker.close();
  });

  test('over smtp-connections-in a connection is held without a greeting, greeted when a slot frees, refused with 421 after smtp-connections-wait', async () => {
    const { port } = await ingress(['smtp-connections-in: 2', 'smtp-connections-wait: 2']);
    const first = await SmtpTalk.connect(port);
    const second = await SmtpTalk.connect(port);
    assert.equal((await first.read()).code, 220);
    assert.equal((await second.read()).code, 220);
    const third = await SmtpTalk.connect(port);
    await assert.rejects(third.read(700), /no reply within/, 'held: no greeting yet');
    await first.quit();
    assert.equal((await third.read(3000)).code, 220, 'greeted once a slot freed');
    const fourth = await SmtpTalk.connect(port);
    const started = Date.now();
    const refused = await fourth.read(5000);
    assert.equal(refused.code, 421);
    assert.match(refused.text, /4\.7\.0/);
    assert.ok(Date.now() - started >= 1500, 'refused only after the wait');
    await second.quit();
    await third.quit();
  });

  test('smtp-connections (this process, in + out) caps inbound sessions the same way', async () => {
    const { port } = await ingress(['smtp-connections: 1', 'smtp-connections-wait: 1']);
    const first = await SmtpTalk.connect(port);
    assert.equal((await first.read()).code, 220);
    const second = await SmtpTalk.connect(port);
    assert.equal((await second.read(4000)).code, 421);
    await first.quit();
    assert.deepEqual(await legitimate(port), [220, 250, 250]);
  });

  test('a slow drip is closed with 421 4.4.2 after the grace period; a legitimate client is served meanwhile; a slow but steady upload passes', async () => {
    const { port, inbox } = await ingress(['smtp-min-rate: 64', 'smtp-min-rate-grace: 2', 'smtp-timeout: 60']);
    const drips = await Promise.all(Array.from({ length: 10 }, () => SmtpTalk.connect(port)));
    for (const drip of drips) assert.equal((await drip.read()).code, 220);
    const started = Date.now();
    // one byte of "EHLO x" every 300 ms: each byte would reset an idle timeout
    const dripping = (async () => {
      for (let i = 0; i < 40 && drips.some((d) => !d.isClosed); i++) {
        for (const drip of drips) if (!drip.isClosed) drip.write('E');
        await sleep(300);
      }
    })();
    assert.deepEqual(await legitimate(port), [220, 250, 250], 'served while the drip goes on');
    // a message uploaded at ~2 KB/s for 3 s: slow, but well above 64 bytes/s
    const slow = await SmtpTalk.connect(port);
    await slow.read();
    await slow.command('EHLO slow.example');
    await slow.command('MAIL FROM:<a@example.com>');
    await slow.command('RCPT TO:<c@example.org>');
    assert.equal((await slow.command('DATA')).code, 354);
    slow.write('Subject: slow\r\n\r\n');
    for (let i = 0; i < 15; i++) {
      slow.write(`${'x'.repeat(400)}\r\n`);
      await sleep(200);
    }
    slow.write('.\r\n');
    assert.equal((await slow.read(10000)).code, 250, 'a steady upload is not a drip');
    await slow.quit();
    await dripping;
    for (const drip of drips) {
      const reply = await drip.read(1000);
      assert.equal(reply.code, 421);
      assert.match(reply.text, /4\.4\.2 .*slower than 64 bytes per second/);
    }
    assert.ok(Date.now() - started < 12000, `drips closed after ${Date.now() - started} ms`);
    assert.equal((await broker.takeJson(inbox, 2)).length, 2);
  });

  test('near the descriptor limit a new client gets 421 4.3.2, not a reset', async () => {
    const port = await freePort();
    const inbox = uniqueName('fd');
    queues.push(inbox);
    const config = writeConfig(['smtp-ip: 127.0.0.1', `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', `rabbitmq-inbox: ${inbox}`].join('\n'));
    // exec keeps the PID node's, so the test stops node itself
    const child = spawn('bash', ['-c', `ulimit -n 160 && exec "${process.execPath}" "${CLI}" ingress --config-file "${config}"`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 200 && !out.includes('"listening"'); i++) await sleep(50);
      assert.match(out, /"listening"/);
      const sessions: SmtpTalk[] = [];
      let refusal: string | undefined;
      for (let i = 0; i < 150 && refusal === undefined; i++) {
        const smtp = await SmtpTalk.connect(port);
        const reply = await smtp.read(5000);
        if (reply.code === 421) refusal = reply.text;
        else sessions.push(smtp);
      }
      assert.ok(refusal !== undefined, 'refused before the descriptors ran out');
      assert.match(refusal, /4\.3\.2/);
      assert.ok(sessions.length < 160 - 64 + 1, `${sessions.length} sessions admitted under a limit of 160`);
      for (const s of sessions) await s.quit();
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  test('config check warns about a listener on every address with no connection caps', async () => {
    const file = writeConfig('smtp-port: 2599\n');
    const { code, stderr } = await runCli(['config', 'check', '--config-file', file]);
    assert.equal(code, 0);
    assert.match(stderr, /smtp-ip: listening on every address with no smtp-connections-in and smtp-connections-per-ip/);
    const capped = await runCli(['config', 'check', '--config-file', writeConfig('smtp-connections-in: 100\nsmtp-connections-per-ip: 10\n')]);
    assert.doesNotMatch(capped.stderr, /listening on every address/);
    const local = await runCli(['config', 'check', '--config-file', writeConfig('smtp-ip: 127.0.0.1\n')]);
    assert.doesNotMatch(local.stderr, /listening on/);
  });
});
