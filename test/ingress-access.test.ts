import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, writeTempFile, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';
import { makeCertificate } from './helpers/tls.js';

const run = promisify(execFile);
const TRUSTED = '127.0.0.2';
const OUTSIDE = '127.0.0.3';

async function session(port: number, from: string): Promise<SmtpTalk> {
  const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: from });
  const greeting = await smtp.read();
  if (greeting.code !== 220) throw Object.assign(new Error(`greeting ${greeting.lines.join(' | ')}`), { greeting });
  await smtp.command('EHLO client.example');
  return smtp;
}

const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

describe('ingress access control', () => {
  let broker: TestBroker;
  const queues: string[] = [];
  const processes: MtaqProcess[] = [];

  async function ingress(lines: string[]): Promise<{ port: number; inbox: string; mtaq: MtaqProcess }> {
    const inbox = uniqueName('access');
    queues.push(inbox);
    const port = await freePort();
    // redis-address empty: the AUTH throttle counts in the process, so no test (or rerun) sees another's failures
    const config = writeConfig(['smtp-ip: 127.0.0.1', `smtp-port: ${port}`, `rabbitmq-inbox: ${inbox}`, 'redis-address:', ...lines].join('\n'));
    const mtaq = await startMtaq('ingress', ['--config-file', config]);
    processes.push(mtaq);
    return { port, inbox, mtaq };
  }

  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    for (const p of processes) await p.stop();
    await broker.deleteQueues(...queues);
    await broker.close();
  });

  test('open-relay matrix: trusted / outside / authenticated × local / remote recipient', async () => {
    const { port, inbox } = await ingress([
      `smtp-range: ${TRUSTED}`,
      'smtp-auth: hardcoded://alice:pw1,bob:pw2',
      'smtp-auth-insecure: true',
      'smtp-local-addresses: @ours.test',
    ]);
    const rcpt = async (client: string, auth: boolean, to: string): Promise<number> => {
      const smtp = await session(port, client);
      if (auth) assert.equal((await smtp.command(`AUTH PLAIN ${plain('alice', 'pw1')}`)).code, 235);
      await smtp.command('MAIL FROM:<s@example.com>');
      const reply = await smtp.command(`RCPT TO:<${to}>`);
      await smtp.quit();
      return reply.code;
    };
    const matrix: Array<[string, string, boolean, string, number]> = [
      ['trusted', TRUSTED, false, 'postmaster@ours.test', 250],
      ['trusted', TRUSTED, false, 'x@elsewhere.example', 250],
      ['outside', OUTSIDE, false, 'postmaster@ours.test', 250],
      ['outside', OUTSIDE, false, 'x@elsewhere.example', 530],
      ['authenticated', OUTSIDE, true, 'postmaster@ours.test', 250],
      ['authenticated', OUTSIDE, true, 'x@elsewhere.example', 250],
    ];
    for (const [who, ip, auth, to, expected] of matrix) {
      assert.equal(await rcpt(ip, auth, to), expected, `${who} → ${to}`);
    }
    assert.equal(await broker.count(inbox), 0, 'nothing was sent, only RCPTs tried');
  });

  test('C15/C10: without AUTH, outsiders may only mail local addresses; with nothing local they are refused at connect', async () => {
    const withLocal = await ingress([`smtp-range: ${TRUSTED}`, 'smtp-local-addresses: postmaster@ours.test; /^abuse@/']);
    const smtp = await session(withLocal.port, OUTSIDE);
    await smtp.command('MAIL FROM:<s@example.com>');
    assert.equal((await smtp.command('RCPT TO:<postmaster@ours.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<abuse@anything.example>')).code, 250, 'regex pattern');
    const denied = await smtp.command('RCPT TO:<x@elsewhere.example>');
    assert.equal(denied.code, 554);
    assert.match(denied.lines[0]!, /^554 5\.7\.1 relaying/);
    await smtp.quit();

    const nothing = await ingress([`smtp-range: ${TRUSTED}`]);
    const refused = await SmtpTalk.connect(nothing.port, '127.0.0.1', { localAddress: OUTSIDE });
    const reply = await refused.read();
    assert.equal(reply.code, 554);
    assert.match(reply.lines[0]!, /^554 5\.7\.1 /);
    await refused.quit();
  });

  test('x-mq headers from an untrusted client are removed and ignored', async () => {
    const { port, inbox } = await ingress([`smtp-range: ${TRUSTED}`, 'smtp-local-addresses: postmaster@ours.test']);
    const body = 'x-mq-smarthost-hostname: relay.evil.example\r\nX-MQ-Envelope: ceo@victim.example\r\nSubject: hi\r\n\r\nx\r\n';
    const outside = await session(port, OUTSIDE);
    assert.equal((await outside.send('s@example.com', ['postmaster@ours.test'], body)).code, 250);
    await outside.quit();
    const trusted = await session(port, TRUSTED);
    assert.equal((await trusted.send('s@example.com', ['postmaster@ours.test'], body)).code, 250);
    await trusted.quit();
    const docs = await broker.takeJson(inbox, 2);
    const fromOutside = docs.find((d) => (d['connection'] as Record<string, unknown>)['remote-ip'] === OUTSIDE)!;
    const fromTrusted = docs.find((d) => (d['connection'] as Record<string, unknown>)['remote-ip'] === TRUSTED)!;
    assert.ok(!('smarthost' in fromOutside));
    assert.equal(fromOutside['envelope'], 's@example.com');
    assert.doesNotMatch(fromOutside['mime'] as string, /x-mq-/i, 'stripped all the same');
    assert.deepEqual(fromTrusted['smarthost'], { hostname: 'relay.evil.example' });
    assert.equal(fromTrusted['envelope'], 'ceo@victim.example');
  });

  test('C16/C17: local recipients go to rabbitmq-local, local reports to rabbitmq-reports', async () => {
    const local = uniqueName('local');
    const reports = uniqueName('reports');
    queues.push(local, reports);
    const { port, inbox } = await ingress([
      `smtp-range: ${TRUSTED}`,
      'smtp-local-addresses: postmaster@ours.test',
      `rabbitmq-local: ${local}`,
      `rabbitmq-reports: ${reports}`,
    ]);
    const smtp = await session(port, OUTSIDE);
    assert.equal((await smtp.send('s@example.com', ['postmaster@ours.test'], 'Subject: hi\r\n\r\nplain\r\n')).code, 250);
    const dsn = 'Subject: bounce\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n';
    assert.equal((await smtp.send('', ['postmaster@ours.test'], dsn)).code, 250);
    await smtp.quit();
    assert.equal((await broker.takeJson(local, 1)).length, 1);
    const [report] = await broker.takeJson(reports, 1);
    assert.match(report!['mime'] as string, /multipart\/report/);
    assert.equal(await broker.count(inbox), 0);
  });

  test('C21 + C14 + swaks: AUTH only after STARTTLS; PLAIN, LOGIN and CRAM-MD5 over TLS; user in the JSON', async () => {
    const { cert, key } = makeCertificate();
    const { port, inbox } = await ingress(['smtp-auth: hardcoded://alice:s3cret', `smtp-certificate: ${cert}`, `smtp-key: ${key}`]);
    const smtp = await session(port, OUTSIDE);
    const ehlo = await smtp.command('EHLO client.example');
    assert.ok(!ehlo.lines.some((l) => l.includes('AUTH')), 'AUTH not advertised before TLS');
    const early = await smtp.command(`AUTH PLAIN ${plain('alice', 's3cret')}`);
    assert.equal(early.code, 530);
    assert.match(early.lines[0]!, /^530 5\.7\.0 Must issue a STARTTLS command first/);
    await smtp.quit();
    for (const method of ['PLAIN', 'LOGIN', 'CRAM-MD5']) {
      const out = await run('swaks', [
        '--server', `127.0.0.1:${port}`, '--tls', '--auth', method, '--auth-user', 'alice', '--auth-password', 's3cret',
        '--from', 'alice@example.com', '--to', `far-${method.toLowerCase()}@elsewhere.example`, '--header', `Subject: ${method}`,
      ]);
      assert.match(out.stdout, /<~ {2}235 /, `${method} accepted`);
      assert.doesNotMatch(out.stdout, /s3cret/, 'swaks shows only the encoded exchange');
    }
    const docs = await broker.takeJson(inbox, 3);
    assert.equal(docs.length, 3);
    for (const doc of docs) {
      const connection = doc['connection'] as Record<string, unknown>;
      assert.equal(connection['secure'], true);
      assert.equal(connection['user'], 'alice');
      assert.match(doc['mime'] as string, /with ESMTPSA/);
    }
  });

  test('C22 file:// backend (openssl passwd -6), 535 on a wrong password, throttle after repeated failures', async () => {
    const hash = execFileSync('openssl', ['passwd', '-6', 's3cret']).toString().trim();
    const file = writeTempFile(`alice:${hash}\n`, 'passwd');
    const { port, mtaq } = await ingress([`smtp-auth: file://${file}`, 'smtp-auth-insecure: true', 'smtp-auth-max-failures: 3']);
    const smtp = await session(port, OUTSIDE);
    assert.equal((await smtp.command(`AUTH PLAIN ${plain('alice', 's3cret')}`)).code, 235);
    await smtp.quit();
    for (let i = 0; i < 3; i++) {
      const s = await session(port, OUTSIDE);
      const reply = await s.command(`AUTH PLAIN ${plain('alice', 'wrong')}`);
      assert.equal(reply.code, 535);
      assert.match(reply.lines[0]!, /^535 5\.7\.8 /);
      await s.quit();
    }
    const blocked = await session(port, OUTSIDE);
    const reply = await blocked.command(`AUTH PLAIN ${plain('alice', 's3cret')}`);
    assert.equal(reply.code, 454, 'throttled even with the right password');
    await blocked.quit();
    const other = await session(port, '127.0.0.4');
    assert.equal((await other.command(`AUTH PLAIN ${plain('alice', 's3cret')}`)).code, 235, 'other clients are not affected');
    await other.quit();
    assert.ok(!JSON.stringify(mtaq.logs).includes('s3cret') && !JSON.stringify(mtaq.logs).includes('wrong'), 'no password in the logs');
  });

  test('concentrator setup: CSV users with network restriction, trusted-networks CSV, TLS required', async () => {
    const { cert, key } = makeCertificate();
    const users = writeTempFile('"User A","user1","password1",""\n"User B","user2","password2","127.0.0.5"\n');
    const networks = writeTempFile(`"Network 1","${TRUSTED}"\n`);
    const { port } = await ingress([
      `smtp-auth-csv: ${users}`,
      'smtp-auth-csv-columns: username=1,password=2,network=3',
      'smtp-auth-csv-insecure-passwords: true',
      `smtp-trusted-networks-csv: ${networks}`,
      'smtp-trusted-networks-csv-column: 1',
      'smtp-require-tls: true',
      `smtp-certificate: ${cert}`,
      `smtp-key: ${key}`,
    ]);
    const clear = await session(port, TRUSTED);
    const early = await clear.command('MAIL FROM:<a@example.com>');
    assert.equal(early.code, 530, 'smtp-require-tls: no mail before STARTTLS');
    assert.match(early.lines[0]!, /^530 5\.7\.0 Must issue a STARTTLS command first/);
    assert.equal((await clear.command('VRFY postmaster')).code, 530, 'nor anything else');
    assert.equal((await clear.command('NOOP')).code, 250);
    assert.equal((await clear.startTls()).code, 220);
    await clear.command('EHLO client.example');
    assert.equal((await clear.command('MAIL FROM:<a@example.com>')).code, 250);
    assert.equal((await clear.command('RCPT TO:<x@elsewhere.example>')).code, 250, 'trusted network relays without AUTH');
    await clear.quit();
    const login = async (from: string, user: string, pass: string): Promise<number> => {
      const s = await session(port, from);
      await s.startTls();
      await s.command('EHLO client.example');
      const code = (await s.command(`AUTH PLAIN ${plain(user, pass)}`)).code;
      await s.quit();
      return code;
    };
    assert.equal(await login(OUTSIDE, 'user1', 'password1'), 235);
    assert.equal(await login(OUTSIDE, 'user2', 'password2'), 535, 'user2 only from 127.0.0.5');
    assert.equal(await login('127.0.0.5', 'user2', 'password2'), 235);
  });

  test('sender allow and recipient deny patterns; block-list; per-client connection caps', async () => {
    const { port } = await ingress([
      'smtp-range: 127.0.0.0/8',
      'smtp-sender-allow: *@example.com',
      'smtp-recipient-deny: *@blocked.example',
      'smtp-blocklist: 127.0.0.66',
      'smtp-connections-per-ip: 2',
    ]);
    const smtp = await session(port, TRUSTED);
    assert.equal((await smtp.command('MAIL FROM:<x@other.example>')).code, 550);
    assert.equal((await smtp.command('MAIL FROM:<x@example.com>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<a@blocked.example>')).code, 550);
    assert.equal((await smtp.command('RCPT TO:<a@fine.example>')).code, 250);
    const second = await session(port, TRUSTED);
    const third = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: TRUSTED });
    const refused = await third.read();
    assert.equal(refused.code, 421);
    assert.match(refused.lines[0]!, /^421 4\.7\.0 /);
    await Promise.all([smtp.quit(), second.quit(), third.quit()]);
    const blocked = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.66' });
    assert.equal((await blocked.read()).code, 554);
    await blocked.quit();
  });
});

