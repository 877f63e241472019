import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

/** One transaction on a fresh connection; returns the final reply. */
async function sendOne(port: number, to: string[] = ['b@example.org']) {
  const smtp = await SmtpTalk.connect(port);
  await smtp.read();
  await smtp.command('EHLO client.example');
  const reply = await smtp.send('a@example.com', to, 'Subject: broker\r\n\r\nbody\r\n');
  await smtp.quit();
  return reply;
}

async function ingress(extra: string[], address = 'amqp://guest:guest@127.0.0.1/'): Promise<{ mtaq: MtaqProcess; port: number }> {
  const port = await freePort();
  const config = writeConfig([`smtp-ip: 127.0.0.1`, `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', `rabbitmq-address: ${address}`, ...extra].join('\n'));
  return { mtaq: await startMtaq('ingress', ['--config-file', config]), port };
}

describe('ingress when RabbitMQ cannot take the message', () => {
  let broker: TestBroker;
  const cleanup: Array<() => Promise<unknown>> = [];

  before(async () => {
    broker = await TestBroker.open();
  });
  after(async () => {
    for (const fn of cleanup.reverse()) await fn();
    await broker.close();
  });

  test('inbox queue missing → 451 4.3.0, nothing created or published', async () => {
    const inbox = uniqueName('missing');
    const { mtaq } = await ingress([`rabbitmq-inbox: ${inbox}`, 'rabbitmq-declare: false']).then((r) => {
      cleanup.push(() => r.mtaq.stop());
      return r;
    });
    const port = mtaq.listeners[0]!.port;
    const reply = await sendOne(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^451 4\.3\.0 .*could not route/);
    const probe = await broker.connection.createChannel();
    probe.on('error', () => undefined);
    await assert.rejects(probe.checkQueue(inbox), /NOT_FOUND/);
  });

  test('broker nacks (queue full, reject-publish) → 451 4.3.0', async () => {
    const inbox = uniqueName('full');
    await broker.channel.assertQueue(inbox, { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    cleanup.push(() => broker.deleteQueues(inbox));
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${inbox}`, 'rabbitmq-declare: false']);
    cleanup.push(() => mtaq.stop());
    const reply = await sendOne(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^451 4\.3\.0 .*nack/);
    assert.equal(await broker.count(inbox), 0);
  });

  test('partial publish is refused with 451 and the confirmed copy is reported by id', async () => {
    const inbox = uniqueName('partial');
    await broker.channel.assertQueue(inbox, { durable: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    cleanup.push(() => broker.deleteQueues(inbox));
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${inbox}`, 'rabbitmq-declare: false', 'rabbitmq-throttle: 1']);
    cleanup.push(() => mtaq.stop());
    const reply = await sendOne(port, ['one@example.org', 'two@example.org']);
    assert.equal(reply.code, 451);
    const [doc] = await broker.takeJson(inbox, 1);
    assert.ok(doc, 'one copy was confirmed');
    await new Promise((r) => setTimeout(r, 200));
    const report = mtaq.logs.find((l) => l['msg'] === 'partially published, client told to retry');
    assert.ok(report, 'the partial publish is logged');
    assert.deepEqual(report['confirmed'], [doc['message-id']]);
    assert.equal((report['failed'] as string[]).length, 1);
  });

  test('broker connection lost → 451; back → 250 after reconnect, nothing lost', async () => {
    const inbox = uniqueName('outage');
    cleanup.push(() => broker.deleteQueues(inbox));
    const proxy = new TcpProxy(5672);
    const proxyPort = await proxy.start();
    const { mtaq, port } = await ingress(
      [`rabbitmq-inbox: ${inbox}`, 'rabbitmq-reconnect-delay: 0.2', 'rabbitmq-persistent: true'],
      `amqp://guest:guest@127.0.0.1:${proxyPort}/`,
    );
    cleanup.push(() => mtaq.stop());
    assert.equal((await sendOne(port)).code, 250);
    await proxy.cut();
    const during = await sendOne(port);
    assert.equal(during.code, 451);
    assert.match(during.lines[0]!, /^451 4\.3\.0 /);
    await proxy.restore();
    let after = during;
    for (let i = 0; i < 50 && after.code !== 250; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await sendOne(port);
    }
    assert.equal(after.code, 250, 'accepts again once the broker is back');
    const docs = await broker.takeJson(inbox, 3, 1500);
    assert.equal(docs.length, 2, 'exactly the two 250-acknowledged messages are queued');
    await proxy.cut();
  });

  test('broker stops confirming → 451 after rabbitmq-publish-timeout', async () => {
    const inbox = uniqueName('stall');
    cleanup.push(() => broker.deleteQueues(inbox));
    const proxy = new TcpProxy(5672);
    const proxyPort = await proxy.start();
    cleanup.push(() => proxy.cut());
    const { mtaq, port } = await ingress(
      [`rabbitmq-inbox: ${inbox}`, 'rabbitmq-publish-timeout: 1'],
      `amqp://guest:guest@127.0.0.1:${proxyPort}/`,
    );
    cleanup.push(() => mtaq.stop('SIGKILL'));
    proxy.freeze();
    const started = Date.now();
    const reply = await sendOne(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /did not confirm within 1s/);
    assert.ok(Date.now() - started < 5000);
  });

  test('broker unreachable at start: ingress still listens and answers 451', async () => {
    const deadPort = await freePort();
    const { mtaq, port } = await ingress([`rabbitmq-inbox: ${uniqueName('never')}`], `amqp://guest:guest@127.0.0.1:${deadPort}/`);
    cleanup.push(() => mtaq.stop());
    const reply = await sendOne(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^451 4\.3\.0 message broker is unavailable/);
  });
});
