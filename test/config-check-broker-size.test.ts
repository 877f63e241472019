import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, writeConfig } from './helpers/process.js';

test('mtaq config check warns when smtp-maxsize as JSON would pass RabbitMQ max_message_size', async () => {
  const big = await runCli(['config', 'check', '--config-file', writeConfig('smtp-maxsize: 120MB\n')]);
  assert.equal(big.code, 0);
  assert.match(big.stderr, /warning: smtp-maxsize 125829120 .*max_message_size/);
  const fine = await runCli(['config', 'check', '--config-file', writeConfig('smtp-maxsize: 100MB\n')]);
  assert.equal(fine.code, 0);
  assert.doesNotMatch(fine.stderr, /max_message_size/);
  const defaults = await runCli(['config', 'keys']);
  assert.match(defaults.stdout, /smtp-max-inflight\s+implemented\s+64MB/);
  assert.match(defaults.stdout, /rabbitmq-publish-timeout\s+implemented\s+60\b/);
});
