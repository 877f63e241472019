import { test } from 'node:test';
import assert from 'node:assert/strict';
import { load, loadError, loadText } from './helpers.js';

test('C1 port list with ranges', () => {
  const { config } = loadText('smtp-port: 25,2525,1024-1026\n');
  assert.deepEqual(config['smtp-port'], [25, 2525, 1024, 1025, 1026]);
});

test('C2 smtp-range allows listed networks and refuses others', () => {
  const { config } = loadText('smtp-range: 192.168.0.0/16;10.0.0.0/8\n');
  const range = config['smtp-range'];
  assert.equal(range.contains('192.168.4.1'), true);
  assert.equal(range.contains('10.9.9.9'), true);
  assert.equal(range.contains('172.16.0.1'), false);
});

test('C3 smtp-maxsize with and without unit', () => {
  assert.equal(loadText('smtp-maxsize: 100MB\n').config['smtp-maxsize'], 104857600);
  assert.equal(loadText('smtp-maxsize: 2048\n').config['smtp-maxsize'], 2048);
  assert.equal(loadText('').config['smtp-maxsize'], 104857600);
});

test('C4 RabbitMQ defaults', () => {
  const { config } = loadText('');
  assert.deepEqual(config['rabbitmq-address'], ['amqp://guest:guest@localhost/']);
  assert.equal(config['rabbitmq-outbox'], 'outbox');
  assert.equal(config['rabbitmq-inbox'], 'outbox');
  assert.equal(config['rabbitmq-durable'], true);
  assert.equal(config['rabbitmq-persistent'], false);
  assert.equal(config['rabbitmq-qos'], 1000);
  assert.equal(config['rabbitmq-minqos'], 100);
  assert.equal(config['rabbitmq-throttle'], 100);
  assert.equal(config['rabbitmq-consumers'], 1);
});

test('C5 delivery defaults', () => {
  const { config } = loadText('');
  assert.deepEqual(config['retry-interval'], [600, 600, 1800, 1800, 3600, 3600, 7200]);
  assert.equal(config['max-delivertime'], 86400);
  assert.equal(config['max-attempts'], 0);
  assert.equal(config['smtp-extract'], true);
  assert.deepEqual(config['smtp-port'], [25]);
  assert.equal(config['smtp-timeout'], 300);
  assert.equal(config['smtp-validate-address'], 'strict');
});

test('C6 main file < --config-file < command line', () => {
  const files = { 'etc-main/mtaq.conf': 'smtp-port: 25\n', 'instance.conf': 'smtp-port: 2525\n' };
  const system = 'etc-main/mtaq.conf';
  const full = load({ files, system, argv: ['--config-file', 'instance.conf', '--smtp-port', '2626'] });
  assert.deepEqual(full.config['smtp-port'], [2626]);
  assert.equal(full.sources.get('smtp-port'), 'command line --smtp-port');
  assert.deepEqual(full.files, ['etc-main/mtaq.conf', 'instance.conf']);

  const noCli = load({ files, system, argv: ['--config-file=instance.conf'] });
  assert.deepEqual(noCli.config['smtp-port'], [2525]);
  assert.equal(noCli.sources.get('smtp-port'), 'instance.conf:1');

  const mainOnly = load({ files, system });
  assert.deepEqual(mainOnly.config['smtp-port'], [25]);
  assert.equal(mainOnly.sources.get('smtp-port'), 'etc-main/mtaq.conf:1');
});

test('C7 smtp-defaultips alias with spaces', () => {
  const { config, sources } = loadText('smtp-defaultips: 1.2.3.4; 1.2.3.5\n');
  assert.deepEqual(config['smtp-default-ips'], ['1.2.3.4', '1.2.3.5']);
  assert.equal(sources.get('smtp-default-ips'), 'etc/mtaq.conf:1');
  assert.deepEqual(loadText('smtp-defaultip: 9.9.9.9\n').config['smtp-default-ips'], ['9.9.9.9']);
});

test('C8 dns-min-ttl: 0 is a configuration error naming file, line and key', () => {
  const err = loadError(() => loadText('# dns\ndns-min-ttl: 0\n'));
  assert.equal(err.file, 'etc/mtaq.conf');
  assert.equal(err.line, 2);
  assert.equal(err.key, 'dns-min-ttl');
  assert.match(err.message, /^etc\/mtaq\.conf:2: dns-min-ttl: expected a duration greater than 0.*got "0"/);
  assert.equal(loadText('dns-min-ttl: 0.5\n').config['dns-min-ttl'], 0.5);
});

test('C9 both multi-node address forms give the same nodes', () => {
  const a = loadText('rabbitmq-address: amqp://u:p@h1/v,amqp://u:p@h2/v\n').config['rabbitmq-address'];
  const b = loadText('rabbitmq-address: amqp://u:p@h1;h2/v\n').config['rabbitmq-address'];
  assert.deepEqual(a, ['amqp://u:p@h1/v', 'amqp://u:p@h2/v']);
  assert.deepEqual(b, a);
  for (const node of a) {
    const url = new URL(node);
    assert.equal(url.pathname, '/v');
    assert.equal(url.username, 'u');
  }
  assert.deepEqual(a.map((node) => new URL(node).hostname), ['h1', 'h2']);
});
