/**
 * corkFrames reaches into amqplib's private multiplexer (connection.muxer._readIncoming, .out): this
 * test fails when an amqplib upgrade changes those internals, so the pin in package.json is lifted
 * only together with a look at broker.ts.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { connect } from 'amqplib';
import { corkFrames } from '../src/broker.js';

const URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';

type Writable = { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };

/** Socket write calls (one system call each) while `burst` publishes synchronously, confirms awaited. */
async function writesFor(cork: boolean): Promise<number> {
  const model = await connect(URL);
  try {
    if (cork) assert.equal(corkFrames(model), true, "amqplib's multiplexer has the internals corkFrames expects");
    const socket = (model as unknown as { connection: { muxer: { out: Writable } } }).connection.muxer.out;
    const channel = await model.createConfirmChannel();
    const queue = `mtaq-test-cork-${randomBytes(4).toString('hex')}`;
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    let writes = 0;
    const write = socket._write;
    const writev = socket._writev;
    socket._write = function (...args: unknown[]) {
      writes++;
      return write.apply(this, args);
    };
    if (writev) {
      socket._writev = function (...args: unknown[]) {
        writes++;
        return writev.apply(this, args);
      };
    }
    for (let i = 0; i < 200; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.waitForConfirms();
    socket._write = write;
    if (writev) socket._writev = writev;
    await channel.deleteQueue(queue);
    await channel.close();
    return writes;
  } finally {
    await model.close();
  }
}

test('corkFrames: the frames of a multiplexer round leave in a few socket writes, not one per frame', async () => {
  const plain = await writesFor(false);
  const corked = await writesFor(true);
  // 200 publishes are 600 frames (method, header, body); amqplib writes each on its own
  assert.ok(plain >= 200, `without corking: ${plain} writes`);
  assert.ok(corked * 10 < plain, `corked: ${corked} writes against ${plain}`);
});
