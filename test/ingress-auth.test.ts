import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { accountHash } from '@mtaq/auth';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { loopbackAddresses, realLogin, spray } from './helpers/auth-spray.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { freePort } from './helpers/ports.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { SmtpTalk } from './helpers/smtp.js';
import { makeCertificate } from './helpers/tls.js';

const run = promisify(execFile);

async function authOnce(port: number, from: string, user: string, pass: string): Promise<{ code: number; ms: number }> {
  return realLogin(port, from, user, pass, 30_000);
}

describe('ingress AUTH throttling and TLS renegotiation', () => {
  let broker: TestBroker;
  let redis: PrivateRedis;
  const queues: string[] = [];
  const processes: MtaqProcess[] = [];

  async function ingress(lines: string[]): Promise<{ port: number; mtaq: MtaqProcess }> {
    const inbox = uniqueName('auth');
    queues.push(inbox);
    const port = await freePort();
    const config = writeConfig(
      ['smtp-ip: 127.0.0.1', `smtp-port: ${port}`, `rabbitmq-inbox: ${inbox}`, 'smtp-auth-insecure: true', `redis-address: ${redis.url}`, ...lines].join('\n'),
    );
    const mtaq = await startMtaq('ingress', ['--config-file', config]);
    processes.push(mtaq);
    return { port, mtaq };
  }

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
  });
  after(async () => {
    for (const p of processes) await p.stop();
    await broker.deleteQueues(...queues);
    await broker.close();
    await redis.stop();
  });

  test('a password spray from 20 addresses is slowed per account; the real user still gets in within the capped delay', async () => {
    const addresses = loopbackAddresses(20, 100);
    const before = await ingress(['smtp-auth: hardcoded://alice:real-pass', 'smtp-auth-delay: 0']);
    const open = await spray({ port: before.port, addresses, attempts: 5, user: 'alice', budgetMs: 3000 });

    const after = await ingress(['smtp-auth: hardcoded://carol:real-pass', 'smtp-auth-delay: 0.25', 'smtp-auth-delay-max: 1']);
    const attack = spray({ port: after.port, addresses: loopbackAddresses(20, 110), attempts: 5, user: 'carol', budgetMs: 3000 });
    await new Promise((r) => setTimeout(r, 500));
    const real = await authOnce(after.port, '127.0.0.250', 'carol', 'real-pass');
    const slowed = await attack;

    console.log(`# spray 20 addresses × 5: ${open.checks} checks at ${open.perSecond.toFixed(0)}/s without the delay, ` +
      `${slowed.checks} at ${slowed.perSecond.toFixed(1)}/s with it; the real user got in after ${real.ms} ms`);
    assert.equal(open.checks, 100, 'every password checked without the delay');
    assert.ok(open.perSecond > 60, `fast without the delay (${open.perSecond}/s)`);
    // 20 connections, each answered at most once per second once the account is hot
    assert.ok(slowed.perSecond <= 26, `at most about one check per connection per smtp-auth-delay-max (${slowed.perSecond}/s)`);
    assert.ok(slowed.perSecond * 3 < open.perSecond, 'at least 3× slower');
    assert.equal(real.code, 235, 'no lockout: the real password still works during the spray');
    assert.ok(real.ms <= 1000 + 1000, `the real user waited at most the cap (+ slack): ${real.ms} ms`);
    assert.ok(!JSON.stringify(after.mtaq.logs).includes('real-pass') && !JSON.stringify(after.mtaq.logs).includes('guess-'), 'no password in the logs');
  });

  test('smtp-auth-concurrency caps the password checks running at once (exec:// backend that sleeps)', async () => {
    const dir = dirname(writeConfig(''));
    const log = join(dir, 'checks.log');
    const script = join(dir, 'slow-check.sh');
    writeFileSync(log, '');
    writeFileSync(script, `#!/bin/sh\necho "+ $(date +%s%N)" >> '${log}'\nsleep 0.4\necho "- $(date +%s%N)" >> '${log}'\nexit 1\n`);
    chmodSync(script, 0o755);
    const { port } = await ingress([`smtp-auth: exec://${script}`, 'smtp-auth-concurrency: 2', 'smtp-auth-delay: 0', 'smtp-auth-max-failures: 0']);
    const results = await Promise.all(loopbackAddresses(8, 120).map((from, i) => authOnce(port, from, `user${i}`, 'x')));
    assert.deepEqual(results.map((r) => r.code), Array(8).fill(535), 'all checked, none refused (they queued)');
    const events = readFileSync(log, 'utf8').trim().split('\n').map((l) => ({ d: l.startsWith('+') ? 1 : -1, t: BigInt(l.slice(2)) }));
    events.sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : x.d - y.d));
    let now = 0;
    let peak = 0;
    for (const e of events) peak = Math.max(peak, (now += e.d));
    assert.equal(events.length, 16);
    assert.equal(peak, 2, 'never more than smtp-auth-concurrency checks at once');
  });

  test('an attempt whose client leaves during its delay is never checked', async () => {
    const dir = dirname(writeConfig(''));
    const log = join(dir, 'checks.log');
    const script = join(dir, 'check.sh');
    writeFileSync(log, '');
    writeFileSync(script, `#!/bin/sh\necho "$SMTP_USER" >> '${log}'\nexit 1\n`);
    chmodSync(script, 0o755);
    const { port } = await ingress([`smtp-auth: exec://${script}`, 'smtp-auth-delay: 0.5', 'smtp-auth-max-failures: 0']);
    assert.equal((await authOnce(port, '127.0.0.160', 'hank', 'wrong')).code, 535, 'first attempt: no delay');
    for (let i = 0; i < 5; i++) {
      const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.161' });
      await smtp.read();
      await smtp.command('EHLO client.example');
      smtp.write(`AUTH PLAIN ${Buffer.from('\0hank\0wrong').toString('base64')}\r\n`);
      await new Promise((r) => setTimeout(r, 50));
      await smtp.quit();
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['hank'], 'only the attempt someone waited for was checked');
  });

  test('smtp-threads: 2 share the per-account counter through Redis (hashed key under mtaq:auth:)', async () => {
    const { port } = await ingress(['smtp-auth: hardcoded://dave:real-pass', 'smtp-threads: 2', 'smtp-auth-delay: 0.2', 'smtp-auth-delay-max: 10', 'smtp-auth-max-failures: 0']);
    const times: number[] = [];
    for (let i = 0; i < 6; i++) times.push((await authOnce(port, '127.0.0.130', 'dave', `wrong-${i}`)).ms);
    // shared: the 6th attempt is the account's 6th (0.2 × 2^4 = 3.2 s); counted per worker it would be an
    // earlier one of whichever worker took it (both accept from the shared socket: the six spread over them)
    assert.ok(times[5]! >= 2500, `6th attempt waited ${times[5]} ms (${times.join(', ')})`);
    const client = new Redis(redis.url);
    const keys = await client.keys('mtaq:auth:*');
    await client.quit();
    assert.ok(keys.includes(`mtaq:auth:acct:${accountHash('dave')}`), keys.join(', '));
    assert.ok(!keys.some((k) => k.includes('dave')), 'account names hashed');
    const ok = await authOnce(port, '127.0.0.131', 'dave', 'real-pass');
    assert.equal(ok.code, 235);
    assert.ok(ok.ms <= 10_000 + 1000);
  });

  test('Redis down: the counters fall back to the process and still throttle (fail open, never closed)', async () => {
    const dead = await freePort();
    const { port, mtaq } = await ingress([
      'smtp-auth: hardcoded://erin:real-pass,frank:real-pass',
      `redis-address: redis://127.0.0.1:${dead}`,
      'smtp-auth-delay: 0.2',
      'smtp-auth-max-failures: 3',
    ]);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await authOnce(port, `127.0.0.${140 + i}`, 'erin', 'wrong');
      assert.equal(r.code, 535);
      times.push(r.ms);
    }
    assert.ok(times[4]! >= 1400, `5th attempt waited 1.6 s locally: ${times.join(', ')}`);
    for (let i = 0; i < 3; i++) assert.equal((await authOnce(port, '127.0.0.150', 'frank', 'wrong')).code, 535);
    assert.equal((await authOnce(port, '127.0.0.150', 'frank', 'real-pass')).code, 454, 'the per-address throttle holds too');
    const ok = await authOnce(port, '127.0.0.151', 'erin', 'real-pass');
    assert.equal(ok.code, 235, 'Redis away is no reason to refuse a good login');
    assert.ok(mtaq.logs.some((l) => /Redis unreachable/.test(String(l['msg']))));
  });

  test('behind a trusted proxy: the PROXY client address is what is throttled, IPv6 per /64', async () => {
    const { port } = await ingress(['smtp-auth: hardcoded://gina:real-pass', 'smtp-proxy: 127.0.0.60', 'smtp-auth-delay: 0', 'smtp-auth-max-failures: 2']);
    const viaProxy = async (client: string, pass: string): Promise<number> => {
      const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.60' });
      smtp.write(`PROXY TCP6 ${client} 2001:db8::25 40000 25\r\n`);
      await smtp.read();
      await smtp.command('EHLO client.example');
      const reply = await smtp.command(`AUTH PLAIN ${Buffer.from(`\0gina\0${pass}`).toString('base64')}`);
      await smtp.quit();
      return reply.code;
    };
    assert.equal(await viaProxy('2001:db8:1:2::1', 'wrong'), 535);
    assert.equal(await viaProxy('2001:db8:1:2:ffff:ffff:ffff:fffe', 'wrong'), 535);
    assert.equal(await viaProxy('2001:db8:1:2::abcd', 'real-pass'), 454, 'the same /64 is the same client');
    assert.equal(await viaProxy('2001:db8:1:3::1', 'real-pass'), 235, 'the next /64 (and the proxy itself) is not throttled');
  });

  test('client-initiated TLS 1.2 renegotiation is refused (Node client and openssl s_client R)', async () => {
    const { cert, key } = makeCertificate();
    const { port } = await ingress(['smtp-auth: hardcoded://alice:pw', `smtp-certificate: ${cert}`, `smtp-key: ${key}`]);
    const socket = net.connect({ port, host: '127.0.0.1' });
    const smtp = await new Promise<tls.TLSSocket>((resolve, reject) => {
      let buffer = '';
      let step = 0;
      socket.on('data', (d: Buffer) => {
        buffer += d.toString();
        if (!buffer.endsWith('\r\n') || /^\d{3}-/m.test(buffer.split('\r\n').at(-2) ?? '')) return;
        const reply = buffer;
        buffer = '';
        if (step === 0) socket.write('EHLO client.example\r\n');
        else if (step === 1) socket.write('STARTTLS\r\n');
        else {
          assert.match(reply, /^220 /);
          socket.removeAllListeners('data');
          const secure = tls.connect({ socket, rejectUnauthorized: false, maxVersion: 'TLSv1.2' });
          secure.once('secureConnect', () => resolve(secure));
          secure.once('error', reject);
        }
        step++;
      });
      socket.once('error', reject);
    });
    assert.equal(smtp.getProtocol(), 'TLSv1.2');
    const outcome = await new Promise<string>((resolve) => {
      smtp.on('error', (err: Error) => resolve(`error: ${err.message}`));
      smtp.on('close', () => resolve('closed'));
      const started = smtp.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? `error: ${err.message}` : 'renegotiated'));
      if (!started) resolve('not started');
      setTimeout(() => resolve('no answer'), 5000).unref();
    });
    smtp.destroy();
    assert.notEqual(outcome, 'renegotiated');
    assert.match(outcome, /no renegotiation|NO_RENEGOTIATION|closed|error/i, outcome);

    const { stdout, stderr } = await run('sh', ['-c', `(sleep 1; echo R; sleep 2; echo NOOP; sleep 1; echo QUIT) | timeout 10 openssl s_client -tls1_2 -crlf -connect 127.0.0.1:${port} -starttls smtp 2>&1; true`]);
    const out = stdout + stderr;
    assert.match(out, /RENEGOTIATING/);
    assert.match(out, /no renegotiation/i, 'the server answers the renegotiation ClientHello with no_renegotiation');
    assert.doesNotMatch(out, /^250 [^\r\n]*Ok\s*$/m, 'no NOOP answered after it');
  });
});
