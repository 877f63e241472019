import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { RuleCache, isReloadMessage, listenForReload, publishReload, storeFromAddress } from '../src/index.js';

const AMQP_URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';

test('isReloadMessage: only {"reload": true}', () => {
  assert.equal(isReloadMessage('{"reload":true}'), true);
  assert.equal(isReloadMessage('{"reload":"yes"}'), false);
  assert.equal(isReloadMessage('{"hello":true}'), false);
  assert.equal(isReloadMessage('not json'), false);
});

test('a {"reload": true} on the cluster exchange reloads at once (ttl 0 = no periodic reload)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-rules-cluster-'));
  const address = `sqlite://${join(dir, 'rules.sqlite')}`;
  const exchange = `mtaq-test-cluster-${process.pid}`;
  const conn = await amqp.connect(AMQP_URL);
  try {
    const channel = await conn.createChannel();
    const cache = new RuleCache(storeFromAddress(address)!, { ttl: 0 }).start();
    await cache.ready();
    const stop = await listenForReload(channel, exchange, cache);
    const editor = storeFromAddress(address)!;
    await editor.create('pauses', { domain: 'x.org', cluster: true });
    assert.equal(cache.current().pauses.length, 0);
    await publishReload(channel, exchange);
    const deadline = Date.now() + 5000;
    while (cache.current().pauses.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(cache.current().pauses.length, 1, 'the pause is in force after the cluster reload');
    await stop();
    await channel.deleteExchange(exchange);
    await editor.close();
    await cache.close();
  } finally {
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
