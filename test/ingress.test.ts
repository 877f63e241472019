import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';
import { makeCertificate } from './helpers/tls.js';

const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

/**
 * One ingress with listeners on 127.0.0.1 (plain + implicit TLS), 127.0.0.2 (mappable) and
 * 127.0.0.3 (unmappable), a real certificate, and an inbox queue of its own.
 */
describe('ingress → inbox', () => {
  const inbox = uniqueName('inbox');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let port: number;
  let securePort: number;

  before(async () => {
    broker = await TestBroker.open();
    port = await freePort();
    securePort = await freePort();
    const { cert, key } = makeCertificate();
    const config = writeConfig(
      [
        `smtp-ip: 127.0.0.1; 127.0.0.2; 127.0.0.3`,
        `smtp-port: ${port}`,
        `smtp-secure-port: ${securePort}`,
        `smtp-hostname: mx.test.example`,
        `smtp-range: 127.0.0.0/8`,
        `smtp-certificate: ${cert}`,
        `smtp-key: ${key}`,
        `smtp-maxsize: 64KB`,
        `smtp-mappable-ips: 127.0.0.0/24`,
        `smtp-unmappable-ips: 127.0.0.3`,
        `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-outbox: ${inbox}`,
        `rabbitmq-persistent: true`,
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('listens on every smtp-ip × smtp-port and the secure port', () => {
    const seen = mtaq.listeners.map((l) => `${l.address}:${l.port}:${l.secure}`).sort();
    const expected = ['127.0.0.1', '127.0.0.2', '127.0.0.3'].flatMap((ip) => [`${ip}:${port}:false`, `${ip}:${securePort}:true`]).sort();
    assert.deepEqual(seen, expected);
  });

  test('C13 two recipients give two documents with one mime and a 3-line 250 (nodemailer)', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
    const info = await transport.sendMail({
      envelope: { from: 'alice@example.com', to: ['bob@x.example', 'carol@x.example'] },
      raw: 'From: alice@example.com\r\nTo: bob@x.example, carol@x.example\r\nSubject: two\r\nMessage-ID: <c13@example.com>\r\n\r\nHello both\r\n',
    });
    transport.close();
    const reply = info.response;
    const docs = await broker.takeJson(inbox, 2);
    assert.equal(docs.length, 2);
    const ids = docs.map((d) => d['message-id'] as string);
    assert.notEqual(ids[0], ids[1]);
    for (const id of ids) assert.match(id, /^[a-z0-9]{8,}$/);
    assert.deepEqual(docs.map((d) => d['recipient']).sort(), ['bob@x.example', 'carol@x.example']);
    assert.equal(docs[0]!['mime'], docs[1]!['mime']);
    assert.match(reply, /^250/);
    // the final line of nodemailer's response carries the last id
    assert.ok(ids.some((id) => reply.includes(id)), reply);
  });

  test('C13 raw reply lists one id per recipient', async () => {
    const smtp = await SmtpTalk.connect(port);
    assert.equal((await smtp.read()).code, 220);
    await smtp.command('EHLO client.example');
    const reply = await smtp.send('a@example.com', ['info@example.com', 'sales@example.com'], 'Subject: ids\r\n\r\nbody\r\n');
    await smtp.quit();
    assert.equal(reply.code, 250);
    assert.equal(reply.lines.length, 3);
    assert.match(reply.lines[0]!, /^250-2\.6\.0 Ok, your message has been queued using the following identifiers:$/);
    assert.match(reply.lines[1]!, /^250-2\.6\.0 [a-z0-9]{8,} for info@example\.com$/);
    assert.match(reply.lines[2]!, /^250 2\.6\.0 [a-z0-9]{8,} for sales@example\.com$/);
    const docs = await broker.takeJson(inbox, 2);
    const byRcpt = Object.fromEntries(docs.map((d) => [d['recipient'], d['message-id']]));
    const idOf = (line: string): string | undefined => / ([a-z0-9]{8,}) for /.exec(line)?.[1];
    assert.equal(idOf(reply.lines[1]!), byRcpt['info@example.com']);
    assert.equal(idOf(reply.lines[2]!), byRcpt['sales@example.com']);
  });

  test('thousands of pipelined commands in one write are each answered, in order, and the session goes on (MAIL/RCPT answered in the check phase, one turn each)', async () => {
    const smtp = await SmtpTalk.connect(port);
    assert.equal((await smtp.read()).code, 220);
    await smtp.command('EHLO client.example');
    const count = 3000;
    smtp.write(`MAIL FROM:<a@example.com>\r\n${Array.from({ length: count }, (_, i) => `RCPT TO:<r${i}@example.org>\r\n`).join('')}RSET\r\n`);
    assert.equal((await smtp.read()).code, 250, 'MAIL');
    const codes = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const { code } = await smtp.read();
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    assert.deepEqual([...codes.keys()].filter((code) => code !== 250 && code !== 452), [], 'accepted, or too many recipients');
    assert.ok((codes.get(250) ?? 0) > 0);
    assert.equal((await smtp.read()).code, 250, 'RSET');
    const reply = await smtp.send('a@example.com', ['after@example.com'], 'Subject: after\r\n\r\nbody\r\n');
    await smtp.quit();
    assert.equal(reply.code, 250);
    assert.equal((await broker.takeJson(inbox, 1))[0]!['recipient'], 'after@example.com');
  });

  test('C14 connection, received, hostname, Received header; field by field', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' });
    const greeting = await smtp.read();
    assert.match(greeting.lines[0]!, /^220 mx\.test\.example ESMTP/);
    const ehlo = await smtp.command('EHLO client.example');
    for (const ext of ['PIPELINING', 'SIZE 65536', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'STARTTLS']) {
      assert.ok(ehlo.lines.some((l) => l.slice(4) === ext), `EHLO advertises ${ext}: ${ehlo.text}`);
    }
    assert.ok(!ehlo.lines.some((l) => l.slice(4).startsWith('AUTH')), 'no AUTH without a backend');
    const body = 'From: a@example.com\r\nSubject: c14\r\n\r\nbody\r\n';
    const reply = await smtp.send('a@example.com', ['b@example.org'], body);
    assert.equal(reply.code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.ok(doc);
    const connection = doc['connection'] as Record<string, unknown>;
    assert.equal(connection['local-ip'], '127.0.0.1');
    assert.equal(connection['local-port'], port);
    assert.equal(connection['remote-ip'], '127.0.0.1');
    assert.equal(typeof connection['remote-port'], 'number');
    assert.equal(connection['secure'], false);
    assert.ok(!('user' in connection));
    assert.match(doc['received'] as string, TIME);
    assert.equal(doc['hostname'], 'mx.test.example');
    assert.equal(doc['envelope'], 'a@example.com');
    assert.equal(doc['recipient'], 'b@example.org');
    const mime = doc['mime'] as string;
    assert.match(mime, /^Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.example/);
    assert.ok(mime.endsWith(body), 'original message follows the Received header unchanged');
    // 127.0.0.1 is mappable: mail leaves from where it came in (reference §7.7)
    assert.deepEqual(doc['ips'], ['127.0.0.1']);
  });

  test('C26 mappable local address 127.0.0.2 → ips; unmappable 127.0.0.3 → none', async () => {
    for (const [host, expected] of [['127.0.0.2', ['127.0.0.2']], ['127.0.0.3', undefined]] as const) {
      const smtp = await SmtpTalk.connect(port, host);
      await smtp.read();
      await smtp.command('EHLO client.example');
      assert.equal((await smtp.send('a@example.com', ['b@example.org'], 'Subject: map\r\n\r\nx\r\n')).code, 250);
      await smtp.quit();
      const [doc] = await broker.takeJson(inbox, 1);
      assert.equal((doc!['connection'] as Record<string, unknown>)['local-ip'], host);
      assert.deepEqual(doc!['ips'], expected);
    }
  });

  test('C27 x-mq-ip wins over the mappable address', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.2');
    await smtp.read();
    await smtp.command('EHLO client.example');
    assert.equal((await smtp.send('a@example.com', ['b@example.org'], 'x-mq-ip: 9.8.7.6\r\nSubject: ip\r\n\r\nx\r\n')).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.deepEqual(doc!['ips'], ['9.8.7.6']);
    assert.ok(!(doc!['mime'] as string).toLowerCase().includes('x-mq-ip'));
  });

  test('C29–C34, C37 x-mq-* headers become properties and leave the MIME', async () => {
    const headers = [
      'X-MQ-IP: 10.20.30.40',
      'x-mq-maxdelivertime: 2031-06-30 12:00:00',
      'x-mq-inlinecss: 1',
      'x-mq-campaign-ref: spring-7',
      'x-mq-tag: A',
      'X-MQ-Tag: B',
      'x-mq-retries: 300,600,3600',
      'x-mq-maxattempts: 3',
      'x-mq-smarthost-hostname: relay.test',
      'x-mq-smarthost-port: 2525',
      'x-mq-failure-queue: f1',
      'x-mq-dsn-notify: failure',
      'x-mq-dsn-ret: hdrs',
      'x-mq-delayed: 2030-01-01 00:00:00',
      'x-mq-recipient: attacker@evil.example',
    ];
    const kept = 'From: a@example.com\r\nSubject: extraction\r\nX-Other: stays\r\n';
    const body = `${headers.join('\r\n')}\r\n${kept}\r\nbody x-mq-tag: not a header\r\n`;
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    assert.equal((await smtp.send('a@example.com', ['b@example.org'], body)).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.ok(doc);
    assert.deepEqual(doc['ips'], ['10.20.30.40']);
    assert.equal(doc['maxdelivertime'], '2031-06-30 12:00:00');
    assert.equal(doc['inlinecss'], true);
    assert.equal(doc['campaign-ref'], 'spring-7');
    assert.deepEqual(doc['tags'], ['A', 'B']);
    assert.deepEqual(doc['retries'], [300, 600, 3600]);
    assert.equal(doc['maxattempts'], 3);
    assert.deepEqual(doc['smarthost'], { hostname: 'relay.test', port: 2525 });
    assert.deepEqual(doc['queues'], { failure: 'f1', results: null, success: null, retry: null });
    assert.deepEqual(doc['dsn'], { notify: 'FAILURE', ret: 'HDRS' });
    assert.deepEqual(doc['nextattempt'], { time: '2030-01-01 00:00:00' });
    assert.equal(doc['recipient'], 'b@example.org', 'x-mq-recipient cannot redirect mail');
    const mime = doc['mime'] as string;
    const afterReceived = mime.slice(mime.indexOf('From: '));
    assert.equal(afterReceived, `${kept}\r\nbody x-mq-tag: not a header\r\n`);
  });

  test('C25 DSN parameters are recorded per recipient', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    assert.equal((await smtp.command('MAIL FROM:<a@x.example> RET=HDRS ENVID=q1')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<b@y.example> NOTIFY=FAILURE,DELAY ORCPT=rfc822;b@y.example')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    assert.equal((await smtp.command('Subject: dsn\r\n\r\nx\r\n.')).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.deepEqual(doc!['dsn'], { ret: 'HDRS', envid: 'q1', notify: 'FAILURE,DELAY', orcpt: 'rfc822;b@y.example' });
  });

  test('C20 declared SIZE over smtp-maxsize → 552 5.3.4', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    const reply = await smtp.command('MAIL FROM:<a@x.example> SIZE=209715200');
    await smtp.quit();
    assert.equal(reply.code, 552);
    assert.match(reply.lines[0]!, /^552 5\.3\.4 /);
  });

  test('oversize DATA → 552 5.3.4 and nothing published', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    const reply = await smtp.send('a@x.example', ['b@y.example'], `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(80));
    assert.equal(reply.code, 552);
    assert.match(reply.lines[0]!, /^552 5\.3\.4 /);
    // the session stays usable after the refusal
    assert.equal((await smtp.send('a@x.example', ['b@y.example'], 'Subject: small\r\n\r\nx\r\n')).code, 250);
    await smtp.quit();
    const docs = await broker.takeJson(inbox, 2, 1500);
    assert.equal(docs.length, 1);
    assert.match(docs[0]!['mime'] as string, /Subject: small/);
  });

  test('STARTTLS (nodemailer requireTLS) → secure true', async () => {
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } });
    await transport.sendMail({ from: 'a@example.com', to: 'tls@example.org', subject: 'starttls', text: 'secret' });
    transport.close();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal((doc!['connection'] as Record<string, unknown>)['secure'], true);
    assert.match(doc!['mime'] as string, /with ESMTPS/);
  });

  test('implicit TLS on smtp-secure-port → secure true', async () => {
    const smtp = await SmtpTalk.connect(securePort, '127.0.0.1', { tls: true });
    assert.equal((await smtp.read()).code, 220);
    const ehlo = await smtp.command('EHLO client.example');
    assert.ok(!ehlo.lines.some((l) => l.includes('STARTTLS')), 'no STARTTLS inside TLS');
    assert.equal((await smtp.send('a@example.com', ['b@example.org'], 'Subject: tls\r\n\r\nx\r\n')).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    const connection = doc!['connection'] as Record<string, unknown>;
    assert.equal(connection['secure'], true);
    assert.equal(connection['local-port'], securePort);
  });

  test('C19 strict address validation refuses a..b@example.com with 553', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    await smtp.command('MAIL FROM:<a@example.com>');
    const reply = await smtp.command('RCPT TO:<a..b@example.com>');
    await smtp.quit();
    assert.equal(reply.code, 553, reply.text);
  });

  test('8-bit UTF-8 body with SMTPUTF8 arrives intact', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO client.example');
    assert.equal((await smtp.command('MAIL FROM:<jörg@exämple.org> SMTPUTF8 BODY=8BITMIME')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<zoë@example.org>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write(Buffer.from('Subject: héllo\r\n\r\nGrüße, 日本語\r\n.\r\n', 'utf8'));
    assert.equal((await smtp.read()).code, 250);
    await smtp.quit();
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal(doc!['envelope'], 'jörg@exämple.org');
    assert.equal(doc!['recipient'], 'zoë@example.org');
    assert.ok((doc!['mime'] as string).endsWith('Subject: héllo\r\n\r\nGrüße, 日本語\r\n'));
  });
});
