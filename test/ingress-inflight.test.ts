import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';

/**
 * smtp-max-inflight for clients that declare no SIZE (Postfix's smtp-source, scripts): they start
 * with a small reservation, so many run at once, and what they really send is counted as it
 * arrives, so the cap holds all the same.
 */
describe('smtp-max-inflight without SIZE', () => {
  const inbox = uniqueName('inflight-inbox');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    port = await freePort();
    const config = writeConfig(
      [
        `smtp-ip: 127.0.0.1`,
        `smtp-port: ${port}`,
        `smtp-range: 127.0.0.0/8`,
        `smtp-max-inflight: 4MB`,
        `smtp-maxsize: 8MB`,
        `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-outbox: ${inbox}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('50 small messages at once without SIZE are all taken (64 KB each, not a share of the cap)', async () => {
    const sessions = await Promise.all(Array.from({ length: 50 }, () => SmtpTalk.connect(port)));
    for (const s of sessions) await s.read();
    for (const s of sessions) await s.command('EHLO loadgen.example');
    // every session holds its MAIL FROM before any sends its body
    for (const s of sessions) assert.equal((await s.command('MAIL FROM:<a@example.com>')).code, 250);
    const replies = await Promise.all(
      sessions.map(async (s) => {
        await s.command('RCPT TO:<b@example.org>');
        await s.command('DATA');
        return s.command('Subject: small\r\n\r\nhello\r\n.');
      }),
    );
    for (const s of sessions) await s.quit();
    assert.deepEqual(replies.map((r) => r.code), replies.map(() => 250));
    assert.equal((await broker.takeJson(inbox, 50)).length, 50);
  });

  test('a message without SIZE that outgrows the cap is answered 452 4.3.1 after its dot, nothing queued; the next one fits', async () => {
    const smtp = await SmtpTalk.connect(port);
    await smtp.read();
    await smtp.command('EHLO big.example');
    const line = `${'x'.repeat(998)}\r\n`;
    const big = await smtp.send('a@example.com', ['b@example.org'], `Subject: big\r\n\r\n${line.repeat(5 * 1024)}`);
    assert.equal(big.code, 452, big.text);
    assert.match(big.text, /^4\.3\.1 Insufficient system storage/);
    const small = await smtp.send('a@example.com', ['b@example.org'], 'Subject: small\r\n\r\nhello\r\n');
    assert.equal(small.code, 250, 'the reservation was given back');
    await smtp.quit();
    const docs = await broker.takeJson(inbox, 1);
    assert.equal(docs.length, 1);
    assert.match(String(docs[0]!['mime']), /Subject: small/);
    assert.equal(await broker.count(inbox), 0);
  });
});
