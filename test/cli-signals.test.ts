import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';

// logrotate sends SIGHUP to every process it rotates for; a service without log files or a token
// file must take it as "nothing to reopen", not die of the signal's default action.
test('SIGHUP to an ingress without log files or token files leaves it running and serving', async () => {
  const port = await freePort();
  const config = writeConfig([`smtp-ip: 127.0.0.1`, `smtp-port: ${port}`, 'smtp-range: 127.0.0.0/8', `rabbitmq-inbox: ${uniqueName('sighup')}`, 'rabbitmq-declare: false'].join('\n'));
  const mtaq = await startMtaq('ingress', ['--config-file', config]);
  try {
    mtaq.child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(mtaq.child.exitCode, null, 'still running');
    assert.equal(mtaq.child.signalCode, null, 'not killed by the signal');
    assert.ok(mtaq.logs.some((l) => l['signal'] === 'SIGHUP'), 'the signal is logged');
    const smtp = await SmtpTalk.connect(port, '127.0.0.1');
    assert.equal((await smtp.read()).code, 220);
    await smtp.quit();
  } finally {
    assert.equal(await mtaq.stop(), 0);
  }
});
