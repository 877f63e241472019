import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';

/**
 * SMTP smuggling (SEC Consult, Dec 2023; CVE-2023-51764/51765/51766) and protocol hygiene, over
 * raw sockets with exact bytes: only <CRLF>.<CRLF> ends DATA, bare LF/CR is refused in messages
 * (554 5.6.11, nothing queued) and in commands (500 5.5.2), and the session limits end with the
 * right codes.
 */

type Doc = Record<string, unknown>;

async function ingress(lines: string[]): Promise<{ mtaq: MtaqProcess; port: number }> {
  const port = await freePort();
  const config = writeConfig(
    [
      `smtp-ip: 127.0.0.1`,
      `smtp-port: ${port}`,
      `smtp-hostname: mx.test.example`,
      // every local client may relay
      `smtp-range: 127.0.0.0/8`,
      `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
      ...lines,
    ].join('\n'),
  );
  return { mtaq: await startMtaq('ingress', ['--config-file', config]), port };
}

async function open(port: number): Promise<SmtpTalk> {
  const smtp = await SmtpTalk.connect(port);
  assert.equal((await smtp.read()).code, 220);
  assert.equal((await smtp.command('EHLO client.example')).code, 250);
  return smtp;
}

/** MAIL, RCPT and DATA up to the 354, one at a time. */
async function startData(smtp: SmtpTalk, rcpt = 'bob@example.org'): Promise<void> {
  assert.equal((await smtp.command('MAIL FROM:<alice@example.com>')).code, 250);
  assert.equal((await smtp.command(`RCPT TO:<${rcpt}>`)).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
}

/** The smuggled second transaction, written with proper CRLFs and ending in a real <CRLF>.<CRLF>. */
const SMUGGLED =
  'MAIL FROM:<mallory@example.com>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n' +
  'From: ceo@example.com\r\nTo: victim@example.net\r\nSubject: smuggled\r\n\r\nwire the money\r\n.\r\n';
const FIRST = 'From: alice@example.com\r\nTo: bob@example.org\r\nSubject: first\r\n\r\nfirst body';

/** The published end-of-data variants: none of them may end a message. */
const BARE_VECTORS: Array<[string, string]> = [
  ['<LF>.<LF>', '\n.\n'],
  ['<LF>.<CR><LF>', '\n.\r\n'],
  ['<CR>.<CR>', '\r.\r'],
  ['<CR>.<CR><LF>', '\r.\r\n'],
  ['<CR><LF>.<CR>', '\r\n.\r'],
  ['<CR><LF>.<LF>', '\r\n.\n'],
  ['<LF>.<CR>', '\n.\r'],
  ['<CR>.<LF>', '\r.\n'],
  ['<CR><LF>.<CR><CR><LF>', '\r\n.\r\r\n'],
  ['<LF><LF>.<LF><LF>', '\n\n.\n\n'],
  ['bare LF in a header line only', '\nX-Injected: yes\r\n'],
];

describe('SMTP smuggling and protocol hygiene', () => {
  const inbox = uniqueName('smuggling');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    ({ mtaq, port } = await ingress([
      `rabbitmq-inbox: ${inbox}`,
      `rabbitmq-outbox: ${inbox}`,
      `smtp-max-recipients: 3`,
      `smtp-max-errors: 5`,
    ]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  for (const [name, vector] of BARE_VECTORS) {
    test(`${name} does not end DATA; the message is refused 554 5.6.11 and nothing is queued`, async () => {
      const smtp = await open(port);
      await startData(smtp);
      // the whole attack in one write, as a smuggling sender pipelines it
      smtp.write(`${FIRST}${vector}${SMUGGLED}`);
      const reply = await smtp.read(10000);
      assert.equal(reply.code, 554, reply.text);
      assert.match(reply.lines[0]!, /^554 5\.6\.11 /);
      // exactly one reply came for all of it: the next one is NOOP's, not the smuggled MAIL's
      const noop = await smtp.command('NOOP');
      assert.equal(noop.code, 250);
      assert.doesNotMatch(noop.text, /Accepted/i);
      // and the session is usable: a clean message goes through
      assert.equal((await smtp.send('alice@example.com', ['clean@example.org'], 'Subject: clean\r\n\r\nok\r\n')).code, 250);
      await smtp.quit();
      const docs = await broker.takeJson(inbox, 2, 300);
      assert.deepEqual(docs.map((d) => d['recipient']), ['clean@example.org'], 'only the clean message was queued');
    });
  }

  test('a vector split across TCP segments is refused the same way', async () => {
    const smtp = await open(port);
    await startData(smtp);
    smtp.write(`${FIRST}\n`);
    await new Promise((r) => setTimeout(r, 50));
    smtp.write('.');
    await new Promise((r) => setTimeout(r, 50));
    smtp.write(`\n${SMUGGLED}`);
    const reply = await smtp.read(10000);
    assert.equal(reply.code, 554);
    await smtp.quit();
    assert.equal((await broker.take(inbox, 1, 500)).length, 0);
  });

  test('<CR><LF><NUL>.<CR><LF> does not end DATA: one message, the "smuggled" part is only body text', async () => {
    const smtp = await open(port);
    await startData(smtp);
    smtp.write(`${FIRST}\r\n\0.\r\n${SMUGGLED}`);
    const reply = await smtp.read(10000);
    assert.equal(reply.code, 250, reply.text);
    const noop = await smtp.command('NOOP');
    assert.equal(noop.code, 250);
    assert.doesNotMatch(noop.text, /Accepted/i);
    await smtp.quit();
    const docs: Doc[] = await broker.takeJson(inbox, 2, 1000);
    assert.equal(docs.length, 1, 'no second message');
    assert.equal(docs[0]!['recipient'], 'bob@example.org');
    assert.match(String(docs[0]!['mime']), /first body\r\n\0\.\r\nMAIL FROM:<mallory@example\.com>/);
  });

  test('a dot-stuffed line and a lone CRLF.CRLF still work (control)', async () => {
    const smtp = await open(port);
    await startData(smtp);
    smtp.write('Subject: dots\r\n\r\n..leading dot\r\n.\r\n');
    assert.equal((await smtp.read()).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.match(String(doc!['mime']), /\r\n\.leading dot\r\n$/);
  });

  test('bare LF or CR in command lines: 500 5.5.2, the command is not run', async () => {
    const smtp = await open(port);
    for (const line of ['NOOP\n', 'NOOP\rRSET\r\n']) {
      smtp.write(line);
      const reply = await smtp.read();
      assert.equal(reply.code, 500, JSON.stringify(line));
      assert.match(reply.lines[0]!, /^500 5\.5\.2 /);
    }
    // a pipelined transaction whose MAIL ends in a bare LF never gets to DATA
    smtp.write('MAIL FROM:<alice@example.com>\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n');
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await smtp.read()).code);
    assert.deepEqual(codes, [500, 503, 503]);
    await smtp.quit();
    assert.equal((await broker.take(inbox, 1, 500)).length, 0);
  });

  test('DATA ended by a bare LF is refused and does not start a message', async () => {
    const smtp = await open(port);
    assert.equal((await smtp.command('MAIL FROM:<alice@example.com>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<bob@example.org>')).code, 250);
    smtp.write('DATA\n');
    assert.equal((await smtp.read()).code, 500);
    assert.equal((await smtp.command('RSET')).code, 250);
    await smtp.quit();
  });

  test('command lines: 512 octets are fine, 513 get 500 5.5.2 Line too long, the session goes on', async () => {
    const smtp = await open(port);
    const ok = await smtp.command(`NOOP ${'x'.repeat(512 - 7)}`);
    assert.equal(ok.code, 250);
    const long = await smtp.command(`NOOP ${'x'.repeat(513 - 7)}`);
    assert.equal(long.code, 500);
    assert.equal(long.lines[0], '500 5.5.2 Line too long');
    // RCPT may be longer by what its DSN parameters add (RFC 3461: +500)
    const mailbox = `${'l'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(50)}.example`;
    assert.equal((await smtp.command('MAIL FROM:<alice@example.com> RET=HDRS ENVID=' + 'e'.repeat(100))).code, 250);
    const rcpt = `RCPT TO:<${mailbox}> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;${mailbox}`;
    assert.ok(rcpt.length + 2 > 512);
    const accepted = await smtp.command(rcpt);
    assert.equal(accepted.code, 250, accepted.text);
    // but not beyond: 512 + 500 octets with the CRLF
    assert.equal((await smtp.command(`RCPT TO:<${mailbox}> ORCPT=rfc822;`.padEnd(1010, 'x'))).code, 250);
    assert.equal((await smtp.command(`RCPT TO:<${mailbox}> ORCPT=rfc822;`.padEnd(1011, 'x'))).code, 500);
    assert.equal((await smtp.command('RSET')).code, 250);
    await smtp.quit();
  });

  test('a line past 16 KiB without a line end: 500 5.5.2 and the connection is closed', async () => {
    const smtp = await open(port);
    smtp.write(`NOOP ${'x'.repeat(20000)}`);
    const reply = await smtp.read();
    assert.equal(reply.lines[0], '500 5.5.2 Line too long');
    const closing = await smtp.read();
    assert.equal(closing.code, 421);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(smtp.isClosed);
  });

  test('smtp-max-recipients 3: the 4th RCPT gets 452 4.5.3, the message goes to the first 3', async () => {
    const smtp = await open(port);
    assert.equal((await smtp.command('MAIL FROM:<alice@example.com>')).code, 250);
    for (const r of ['r1', 'r2', 'r3']) assert.equal((await smtp.command(`RCPT TO:<${r}@example.org>`)).code, 250);
    const fourth = await smtp.command('RCPT TO:<r4@example.org>');
    assert.equal(fourth.code, 452);
    assert.match(fourth.lines[0]!, /^452 4\.5\.3 /);
    // 452 is flow control: more of them than smtp-max-errors (5) do not end the session
    for (let r = 5; r <= 10; r++) assert.equal((await smtp.command(`RCPT TO:<r${r}@example.org>`)).code, 452);
    assert.equal((await smtp.command('DATA')).code, 354);
    assert.equal((await smtp.command('Subject: many\r\n\r\nx\r\n.')).code, 250);
    await smtp.quit();
    const docs = await broker.takeJson(inbox, 4, 1500);
    assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['r1@example.org', 'r2@example.org', 'r3@example.org']);
  });

  test('smtp-max-errors 5: the 5th error is answered, then 421 4.7.0 and close', async () => {
    const smtp = await open(port);
    for (let i = 1; i <= 4; i++) assert.equal((await smtp.command(`BOGUS${i}`)).code, 500);
    const fifth = await smtp.command('BOGUS5');
    assert.equal(fifth.code, 500);
    const closing = await smtp.read();
    assert.equal(closing.code, 421);
    assert.match(closing.lines[0]!, /^421 4\.7\.0 /);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(smtp.isClosed, 'closed after 421');
  });

  test('smtp-max-errors counts every kind of error (bad sequence, bad address, bare LF, long line)', async () => {
    const smtp = await open(port);
    assert.equal((await smtp.command('RCPT TO:<bob@example.org>')).code, 503);
    assert.equal((await smtp.command('MAIL FROM:<not an address>')).code >= 500, true);
    smtp.write('NOOP\n');
    assert.equal((await smtp.read()).code, 500);
    assert.equal((await smtp.command(`NOOP ${'x'.repeat(600)}`)).code, 500);
    assert.equal((await smtp.command('DATA')).code, 503);
    assert.equal((await smtp.read()).code, 421);
  });

  test('accepted mail starts the error count afresh', async () => {
    const smtp = await open(port);
    for (let i = 0; i < 4; i++) assert.equal((await smtp.command('BOGUS')).code, 500);
    assert.equal((await smtp.send('alice@example.com', ['reset@example.org'], 'Subject: reset\r\n\r\nx\r\n')).code, 250);
    for (let i = 0; i < 4; i++) assert.equal((await smtp.command('BOGUS')).code, 500);
    assert.equal((await smtp.command('NOOP')).code, 250, 'still open after 4 + 4 errors around a delivery');
    await smtp.quit();
    assert.equal((await broker.takeJson(inbox, 1)).length, 1);
  });

  test('nothing unexpected was queued', async () => {
    assert.equal((await broker.take(inbox, 1, 300)).length, 0);
  });
});

describe('smtp-timeout', () => {
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    ({ mtaq, port } = await ingress([`rabbitmq-inbox:`, `smtp-timeout: 1`]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
  });

  test('an idle client gets 421 4.4.2 after smtp-timeout and is disconnected', async () => {
    const smtp = await open(port);
    const started = Date.now();
    const reply = await smtp.read(5000);
    const waited = Date.now() - started;
    assert.equal(reply.code, 421);
    assert.match(reply.lines[0]!, /^421 4\.4\.2 /);
    assert.ok(waited >= 800 && waited < 3000, `timed out after ${waited} ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(smtp.isClosed);
  });

  test('idle in the middle of DATA: 421 4.4.2 too', async () => {
    const smtp = await open(port);
    await startData(smtp);
    smtp.write('Subject: stalled\r\n\r\npart');
    const reply = await smtp.read(5000);
    assert.equal(reply.code, 421);
    assert.match(reply.lines[0]!, /^421 4\.4\.2 /);
  });
});
