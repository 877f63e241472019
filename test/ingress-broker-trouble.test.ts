import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RabbitNode } from './drills/rabbit-node.js';
import { runCli, startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { freePort } from './helpers/ports.js';
import { SmtpTalk, type Reply } from './helpers/smtp.js';

/**
 * Issue 8 item 5: broker trouble reaches the client at MAIL FROM, before it sends a body. A private
 * RabbitMQ node (test/drills/rabbit-node.ts) is stopped and blocked here; the shared one on 5672 is
 * never touched.
 */

async function mailFrom(port: number): Promise<Reply> {
  const smtp = await SmtpTalk.connect(port);
  await smtp.read();
  await smtp.command('EHLO client.example');
  const reply = await smtp.command('MAIL FROM:<a@example.com> SIZE=1000');
  await smtp.quit();
  return reply;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('broker trouble answered at MAIL FROM (private RabbitMQ node)', () => {
  let node: RabbitNode;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    node = await RabbitNode.start();
    port = await freePort();
    const config = writeConfig(
      [
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${port}`,
        'smtp-range: 127.0.0.0/8',
        `rabbitmq-address: ${node.url}`,
        'rabbitmq-inbox: trouble',
        'rabbitmq-reconnect-delay: 0.2',
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
  });
  after(async () => {
    await mtaq?.stop('SIGKILL');
    await node?.destroy();
  });

  test('connected: MAIL FROM 250', async () => {
    assert.equal((await mailFrom(port)).code, 250);
  });

  test('broker blocks publishers (memory alarm): MAIL FROM 451 4.3.0; unblocked: 250 again', async () => {
    const set = await node.ctl(['set_vm_memory_high_watermark', '0']);
    assert.equal(set.code, 0, set.output);
    await until('connection.blocked', () => mtaq.logs.some((l) => l['msg'] === 'broker blocked publishing'));
    const reply = await mailFrom(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^451 4\.3\.0 message broker is unavailable/);
    assert.equal((await node.ctl(['set_vm_memory_high_watermark', '0.4'])).code, 0);
    await until('unblocked', async () => (await mailFrom(port)).code === 250);
  });

  test('password changed while running: logged as an error and retried; MAIL FROM 451 meanwhile', async () => {
    assert.equal((await node.ctl(['change_password', 'guest', 'changed'])).code, 0);
    await node.closeAllConnections('drill: password changed');
    await until('the refused login logged', () =>
      mtaq.logs.some((l) => l['msg'] === 'broker refused the login (check rabbitmq-address), reconnecting' && l['level'] === 50),
    );
    assert.equal((await mailFrom(port)).code, 451);
    assert.equal(mtaq.child.exitCode, null, 'still running');
    assert.equal((await node.ctl(['change_password', 'guest', 'guest'])).code, 0);
    await until('reconnected', async () => (await mailFrom(port)).code === 250, 60_000);
  });

  test('broker stopped: MAIL FROM 451 4.3.0 at once; back: 250 again', async () => {
    await node.stop();
    await until('the ingress noticing', () => mtaq.logs.some((l) => l['msg'] === 'broker unavailable, reconnecting'));
    const started = Date.now();
    const reply = await mailFrom(port);
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^451 4\.3\.0 message broker is unavailable/);
    assert.ok(Date.now() - started < 2000, 'straight away');
    await node.boot();
    await until('reconnected', async () => (await mailFrom(port)).code === 250, 60_000);
  });
});

test('a wrong broker password at start-up: exit 78, one line naming rabbitmq-address, password masked', async () => {
  const port = await freePort();
  const config = writeConfig(['smtp-ip: 127.0.0.1', `smtp-port: ${port}`, 'rabbitmq-address: amqp://guest:not-the-password@127.0.0.1/'].join('\n'));
  const { code, stderr } = await runCli(['ingress', '--config-file', config]);
  assert.equal(code, 78);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, /rabbitmq-address/);
  assert.match(lines[0]!, /guest:\*+@/);
  assert.doesNotMatch(stderr, /not-the-password/);
});
