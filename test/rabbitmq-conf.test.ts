// The broker settings the project ships (rabbitmq/rabbitmq.conf with rabbitmq/definitions.json), on a
// private RabbitMQ node: RabbitMQ accepts them, declares the definitions' queues, and keeps classic
// queues in the version 2 store (Debian 12's RabbitMQ 3.10 would use version 1 without the file).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import amqp from 'amqplib';
import { RabbitNode } from './drills/rabbit-node.js';

const ROOT = join(import.meta.dirname, '..');

/**
 * The shipped file's settings, with the definitions read from this checkout instead of /etc; and
 * without its disk limit (2 GB), which a small test machine's disk may not have free, so that the
 * node's own 50 MB applies.
 */
function shippedSettings(): string[] {
  return readFileSync(join(ROOT, 'rabbitmq', 'rabbitmq.conf'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith('disk_free_limit.'))
    .map((line) => (line.startsWith('load_definitions') ? `load_definitions = ${join(ROOT, 'rabbitmq', 'definitions.json')}` : line));
}

/** The files of a classic queue's index, found by the `.queue_name` file RabbitMQ writes beside them. */
function queueFiles(dataDir: string, queue: string): string[] {
  for (const node of readdirSync(dataDir)) {
    const vhosts = join(dataDir, node, 'msg_stores', 'vhosts');
    if (!existsSync(vhosts)) continue;
    for (const vhost of readdirSync(vhosts)) {
      const queues = join(vhosts, vhost, 'queues');
      if (!existsSync(queues)) continue;
      for (const dir of readdirSync(queues)) {
        const name = join(queues, dir, '.queue_name');
        if (existsSync(name) && readFileSync(name, 'utf8').includes(`QUEUE: ${queue}\n`)) return readdirSync(join(queues, dir));
      }
    }
  }
  return [];
}

describe('rabbitmq/rabbitmq.conf on a private RabbitMQ node', () => {
  let node: RabbitNode;

  before(async () => {
    node = await RabbitNode.start({ config: shippedSettings() });
  });
  after(async () => {
    await node?.destroy();
  });

  test('the settings load: the definitions declare outbox and results', async () => {
    const connection = await amqp.connect(node.url);
    try {
      const channel = await connection.createChannel();
      for (const queue of ['outbox', 'results']) assert.equal((await channel.checkQueue(queue)).queue, queue);
    } finally {
      await connection.close();
    }
  });

  test('classic queues are kept in the version 2 store (.qi/.qs files, not version 1 .idx)', async () => {
    const queue = 'conf-check';
    const connection = await amqp.connect(node.url);
    try {
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { durable: true });
      for (let i = 0; i < 20; i++) channel.sendToQueue(queue, Buffer.alloc(1000, 0x61), { persistent: true });
      await channel.waitForConfirms();
      const files = queueFiles(node.dataDir, queue);
      assert.ok(files.some((f) => f.endsWith('.qi')), `version 2 index files expected, found: ${files.join(', ') || 'none'}`);
      assert.ok(!files.some((f) => f.endsWith('.idx')), `a version 1 index was written: ${files.join(', ')}`);
      await channel.deleteQueue(queue);
    } finally {
      await connection.close();
    }
  });
});
