import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configKeys, formatConfig, keyInfo, parseConfigText, schema } from '../src/index.js';
import { load, loadText } from './helpers.js';

const SECRETS = [
  'rabbitmq-address: amqp://mq:brokerpw@h1;h2/mail',
  'cluster-address: amqps://cl:clusterpw@c1/cluster',
  'smtp-auth: hardcoded://alice:alicepw,bob:bobpw',
  'smtp-username: carol',
  'smtp-password: carolpw',
  'smarthost: relay.test',
  'smarthost-username: relay',
  'smarthost-password: relaypw',
  'smtp-sink-password: sinkpw',
  'storage-address: s3://key:s3secret@eu-west-1/bucket',
  'database-address: mysql://db:dbpw@localhost/mtaq',
  'rabbitmq-password: legacypw',
  'proxy-server: http://px:proxypw@proxy:3128',
  'smtp-certificate: /c.pem',
  'smtp-key: /k.pem',
];

const PASSWORDS = ['brokerpw', 'clusterpw', 'alicepw', 'bobpw', 'carolpw', 'relaypw', 'sinkpw', 's3secret', 'dbpw', 'legacypw', 'proxypw'];

test('formatConfig masks every credential', () => {
  const { config } = loadText(`${SECRETS.join('\n')}\n`);
  const text = formatConfig(config);
  for (const password of PASSWORDS) assert.ok(!text.includes(password), `${password} leaked:\n${text}`);
  assert.match(text, /^rabbitmq-address: +amqp:\/\/mq:\*{8}@h1\/mail,amqp:\/\/mq:\*{8}@h2\/mail$/m);
  assert.match(text, /^smtp-auth: +hardcoded:\/\/alice:\*{8},bob:\*{8}$/m);
  assert.match(text, /^smtp-password: +\*{8}$/m);
  assert.match(text, /^storage-address: +s3:\/\/key:\*{8}@eu-west-1\/bucket$/m);
  assert.match(text, /^smtp-sink-username:$/m, 'empty values are written without a trailing space');
  // Masked output is still a valid config file.
  assert.doesNotThrow(() => parseConfigText(text, 'masked.conf'));

  const radius = formatConfig(loadText('smtp-auth: radius://nas1:radiussecret@radius.test:1812\n').config);
  assert.match(radius, /^smtp-auth: +radius:\/\/nas1:\*{8}@radius\.test:1812$/m);
});

test('formatConfig output parses back to the same config', () => {
  const text = [
    ...SECRETS,
    'smtp-port: 25,2525,1024-1026,3000',
    'smtp-range: 192.168.0.0/16; 10.0.0.0/8; 2001:db8::/32',
    'smtp-maxsize: 1536KB',
    'smtp-timeout: 90s',
    'smtp-greeting-delay: 250ms',
    'smtp-hostname: mx.example.com',
    'smtp-check: spf,dmarc',
    'smtp-defaultips: 1.2.3.4; 1.2.3.5',
    'retry-interval: 60,2m',
    'dsn-notify: failure,delay',
    'log-level: debug',
    'rabbitmq-maxpriority: 4',
    'dns-timeout: 2.5',
    'application-log: stdout,/var/log/mtaq.log',
  ].join('\n');
  const first = loadText(`${text}\n`).config;
  const written = formatConfig(first, undefined, { showSecrets: true });
  const second = loadText(written).config;
  assert.equal(JSON.stringify(second), JSON.stringify(first));
  assert.equal(formatConfig(second, undefined, { showSecrets: true }), written);
  assert.match(written, /^smtp-port: +25,2525,1024-1026,3000$/m);
  assert.match(written, /^smtp-maxsize: +1536KB$/m);
  assert.match(written, /^smtp-greeting-delay: +0\.25$/m);

  const defaults = loadText('').config;
  assert.equal(JSON.stringify(loadText(formatConfig(defaults, undefined, { showSecrets: true })).config), JSON.stringify(defaults));
});

test('formatConfig lists keys in schema order and can say where each value came from', () => {
  const { config, sources } = load({ files: { 'etc/mtaq.conf': '\nsmtp-port: 2525\n' }, argv: ['--log-level', 'warn'] });
  const text = formatConfig(config, sources, { showSecrets: true });
  const keys = text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.slice(0, line.indexOf(':')));
  assert.deepEqual(keys, configKeys);
  assert.match(text, /# from etc\/mtaq\.conf:2\nsmtp-port: +2525\n/);
  assert.match(text, /# from command line --log-level\nlog-level: +warn\n/);
  assert.ok(!text.includes('# from default\n'));
  assert.equal(JSON.stringify(loadText(text).config), JSON.stringify(config), 'comments do not disturb parsing');
});

test('schema: every key has a description, a parseable default, and distinct names', () => {
  const names = new Set<string>();
  for (const info of keyInfo) {
    assert.ok(info.description.length > 10, info.key);
    assert.ok(info.type.length > 0, info.key);
    assert.match(info.key, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    for (const name of [info.key, ...info.aliases]) {
      assert.ok(!names.has(name), `duplicate name ${name}`);
      names.add(name);
    }
    assert.doesNotThrow(() => schema[info.key].type.parse(info.default), info.key);
  }
  assert.equal(keyInfo.length, configKeys.length);
  for (const key of ['smtp-default-ips', 'smtp-key', 'dns-timeout']) assert.ok(keyInfo.find((k) => k.key === key)?.aliases.length);
  for (const key of ['smtp-password', 'rabbitmq-address', 'smtp-auth', 'smarthost-password', 'rabbitmq-password']) {
    assert.equal(keyInfo.find((k) => k.key === key)?.secret, true, key);
  }
});

test('parseConfigText returns the values a text sets, canonical names beating aliases', () => {
  const parsed = parseConfigText('smtp-privatekey: /old.pem\nsmtp-key: /new.pem\nsmtp-port: 26\nbogus: 1\n', 'x.conf');
  assert.deepEqual(parsed.values, { 'smtp-key': '/new.pem', 'smtp-port': [26] });
  assert.equal(parsed.settings.length, 3);
  assert.equal(parsed.warnings[0]?.message, 'x.conf:4: unknown key "bogus"');
  assert.throws(() => parseConfigText('smtp-port: x\n', 'x.conf'), /^ConfigError: x\.conf:1: smtp-port/);
});
