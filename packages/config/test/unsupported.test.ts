import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKeys, parseConfigText, schema } from '../src/index.js';
import { load, loadText } from './helpers.js';

const NO_EFFECT = 'has no effect in this version (not implemented yet)';

test('a file line setting an unsupported key warns with file, line and key, in line order with unknown keys', () => {
  const { warnings, config } = loadText('smtp-port: 2525\nstorage-ttl: 5\nsmtp-prot: 25\nspool-threads: 2\n');
  assert.deepEqual(
    warnings.map((w) => w.message),
    [
      `etc/mtaq.conf:2: storage-ttl: ${NO_EFFECT}`,
      'etc/mtaq.conf:3: unknown key "smtp-prot" (did you mean "smtp-port"?)',
      `etc/mtaq.conf:4: spool-threads: ${NO_EFFECT}`,
    ],
  );
  assert.deepEqual([warnings[0]?.file, warnings[0]?.line, warnings[0]?.key], ['etc/mtaq.conf', 2, 'storage-ttl']);
  // still parsed and validated like any key, so MailerQ configurations keep loading
  assert.equal(config['storage-ttl'], 5);
});

test('an alias is named as written', () => {
  const { warnings } = loadText('error-log: stdout\n');
  assert.deepEqual(warnings.map((w) => w.message), [`etc/mtaq.conf:1: error-log: ${NO_EFFECT}`]);
  assert.equal(warnings[0]?.key, 'application-log');
});

test('command-line options and environment variables name themselves', () => {
  const { warnings } = load({ argv: ['--storage-address', 'dir:///tmp/x', '--smtp-port', '2525'], env: { MTAQ_STORAGE_TTL: '60' } });
  assert.deepEqual(warnings.map((w) => w.message), [
    `command line --storage-address: ${NO_EFFECT}`,
    `environment MTAQ_STORAGE_TTL: ${NO_EFFECT}`,
  ]);
});

test('built-in defaults never warn, nor do keys that take effect through another', () => {
  assert.deepEqual(loadText('').warnings, []);
  // the log files are off by default: nothing is written where the process happens to start (the checkout)
  assert.equal(schema['send-log-file'].default, '');
  assert.equal(schema['received-log-file'].default, '');
  // the legacy broker keys build rabbitmq-address
  assert.deepEqual(loadText('rabbitmq-host: mq.example.com\nrabbitmq-user: u\nrabbitmq-password: p\n').warnings, []);
});

test('parseConfigText reports them too', () => {
  const parsed = parseConfigText('storage-ttl: 60\n', 'x.conf');
  assert.deepEqual(parsed.warnings.map((w) => w.message), [`x.conf:1: storage-ttl: ${NO_EFFECT}`]);
});

test('every key has a status', () => {
  for (const key of configKeys) assert.ok(['implemented', 'unsupported'].includes(schema[key].status), key);
});
