import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';

const MIME = 'From: s@example.com\r\nTo: r@x.test\r\nSubject: shutdown\r\n\r\nbody\r\n';

/**
 * SIGTERM with a transaction that can never finish: the upstream stops answering after RCPT, so the
 * final dot is never sent. Delivery must not wait for it forever: at 25 s it cuts the transaction
 * (nothing was sent), the message goes back to the queue, and the process is gone by 30 s.
 */
describe('delivery: bounded shutdown', () => {
  let broker: TestBroker;
  let redis: PrivateRedis;
  const outbox = uniqueName('shutdown');

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
  });
  after(async () => {
    await broker.deleteQueues(outbox, `${outbox}-results`);
    await broker.close();
    await redis.stop();
  });

  test('a transaction stuck before its final dot is cut at 25 s; the process exits by 30 s; the message stays queued, unsent', { timeout: 60_000 }, async () => {
    let rcpts = 0;
    const sink = await TestSink.start({ host: '127.0.0.1', decide: (stage) => (stage === 'rcpt' ? (rcpts++, 'stall') : undefined) });
    try {
      const config = writeConfig(
        [
          'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
          'rabbitmq-persistent: true',
          `redis-address: ${redis.url}`,
          `rabbitmq-outbox: ${outbox}`,
          `rabbitmq-results: ${outbox}-results`,
          'smtp-default-ips: 127.0.0.1',
          'smtp-sink-address: 127.0.0.1',
          `smtp-sink-port: ${sink.port}`,
        ].join('\n'),
      );
      const mtaq = await startMtaq('delivery', ['--config-file', config]);
      await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'stuck@x.test', mime: MIME });
      await broker.publishJson(outbox, { envelope: 's@example.com', recipient: 'waiting@x.test', mime: MIME });
      const deadline = Date.now() + 10_000;
      while (rcpts < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(rcpts >= 1, 'the transaction reached RCPT');
      const started = Date.now();
      const code = await mtaq.stop('SIGTERM');
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds >= 24 && seconds <= 30, `exited after ${seconds.toFixed(1)} s`);
      assert.equal(code, 0);
      assert.ok(mtaq.logs.some((l) => l['msg'] === 'shutdown: aborting transactions that have not sent their final dot'));
      assert.equal(sink.received.length, 0, 'nothing was sent');
      assert.equal(await broker.count(outbox), 2, 'both messages are back on the outbox');
      assert.equal(await broker.count(`${outbox}-results`), 0);
    } finally {
      await sink.close();
    }
  });
});
