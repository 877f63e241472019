import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { CidrList } from '@mtaq/net';
import { ConfigError, configFromValues, loadConfig } from '../src/index.js';
import { load, loadError, loadText, workdir } from './helpers.js';

test('comments and blank lines are ignored; values are trimmed after the first colon', () => {
  const { config, warnings } = loadText(
    ['# a comment', '', '   # indented comment', '\t', 'smtp-hostname:   mx.example.com   ', 'delivery-folder: C:/mail/out', ''].join('\r\n'),
  );
  assert.equal(config['smtp-hostname'], 'mx.example.com');
  assert.equal(config['delivery-folder'], 'C:/mail/out');
  assert.deepEqual(warnings, []);
});

test('a later occurrence of a key wins', () => {
  const { config, sources } = loadText('smtp-port: 25\nsmtp-port: 2525\n');
  assert.deepEqual(config['smtp-port'], [2525]);
  assert.equal(sources.get('smtp-port'), 'etc/mtaq.conf:2');
});

test('--key=value and --key value on the command line', () => {
  const { config, sources } = load({ argv: ['--smtp-port=2600', '--rabbitmq-outbox', 'out2', '--smtp-range=', '--smtp-ip', '::1'] });
  assert.deepEqual(config['smtp-port'], [2600]);
  assert.equal(config['rabbitmq-outbox'], 'out2');
  assert.equal(config['smtp-range'].isEmpty, true);
  assert.deepEqual(config['smtp-ip'], ['::1']);
  assert.equal(sources.get('rabbitmq-outbox'), 'command line --rabbitmq-outbox');
});

test('environment MTAQ_* overrides file and command line', () => {
  const { config, sources } = load({
    files: { 'etc/mtaq.conf': 'smtp-port: 25\nrabbitmq-qos: 10\n' },
    argv: ['--smtp-port', '2525'],
    env: { MTAQ_SMTP_PORT: '2600', MTAQ_RABBITMQ_QOS: '20', PATH: '/bin', mtaq_smtp_timeout: '1' },
  });
  assert.deepEqual(config['smtp-port'], [2600]);
  assert.equal(config['rabbitmq-qos'], 20);
  assert.equal(config['smtp-timeout'], 300);
  assert.equal(sources.get('smtp-port'), 'environment MTAQ_SMTP_PORT');
});

test('a bare boolean flag means true; --no-key and an explicit word also work', () => {
  const file = { 'etc/mtaq.conf': 'smtp-extract: false\nrabbitmq-persistent: yes\n' };
  assert.equal(load({ files: file, argv: ['--smtp-extract'] }).config['smtp-extract'], true);
  const explicit = load({ files: file, argv: ['--smtp-extract', 'off', 'check'] });
  assert.equal(explicit.config['smtp-extract'], false);
  assert.deepEqual(explicit.rest, ['check']);
  const flagThenWord = load({ files: file, argv: ['--smtp-extract', 'check'] });
  assert.equal(flagThenWord.config['smtp-extract'], true);
  assert.deepEqual(flagThenWord.rest, ['check']);
  assert.equal(load({ files: file, argv: ['--no-rabbitmq-persistent'] }).config['rabbitmq-persistent'], false);
});

test('booleans accept true/false/1/0/yes/no/on/off in any case', () => {
  for (const [text, value] of [['true', true], ['FALSE', false], ['1', true], ['0', false], ['Yes', true], ['no', false], ['on', true], ['OFF', false]] as const) {
    assert.equal(loadText(`rabbitmq-lazy: ${text}\n`).config['rabbitmq-lazy'], value, text);
  }
});

test('words that are not config options are returned in rest, in order', () => {
  const { rest, config } = load({ argv: ['check', '--smtp-port', '2525', '--help', '-v', '--verbose=2', '--', '--smtp-port', '1'] });
  assert.deepEqual(rest, ['check', '--help', '-v', '--verbose=2', '--smtp-port', '1']);
  assert.deepEqual(config['smtp-port'], [2525]);
});

test('an option that needs a value but has none is an error', () => {
  const err = loadError(() => load({ argv: ['--smtp-port'] }));
  assert.match(err.message, /^command line --smtp-port: expected a value/);
  loadError(() => load({ argv: ['--smtp-port', '--smtp-extract'] }));
});

test('alias: canonical smtp-key beats smtp-privatekey in the same file regardless of order (I3)', () => {
  const tls = 'smtp-certificate: /c.pem\n';
  assert.equal(loadText(`${tls}smtp-key: /k1.pem\nsmtp-privatekey: /k2.pem\n`).config['smtp-key'], '/k1.pem');
  assert.equal(loadText(`${tls}smtp-privatekey: /k2.pem\nsmtp-key: /k1.pem\n`).config['smtp-key'], '/k1.pem');
  assert.equal(loadText(`${tls}smtp-privatekey: /k2.pem\n`).config['smtp-key'], '/k2.pem');
  // A later source still overrides an earlier one, whatever name it uses.
  assert.equal(loadText(`${tls}smtp-key: /k1.pem\n`, ['--smtp-privatekey', '/k3.pem']).config['smtp-key'], '/k3.pem');
});

test('5.12 DNS names are aliases of the 5.13 ones; deprecated error-log feeds application-log', () => {
  const { config } = loadText('dns-expire: 60.0\ndns-spread: 15.0\ndns-interval: 3.0\nerror-log: stderr, /var/log/mtaq.log\n');
  assert.equal(config['dns-timeout'], 60);
  assert.equal(config['dns-spread'], 15);
  assert.equal(config['dns-interval'], 3);
  assert.deepEqual(config['application-log'], ['stderr', '/var/log/mtaq.log']);
});

test('durations: seconds with decimals or a unit, stored as seconds', () => {
  const { config } = loadText('smtp-timeout: 5m\nsmtp-greeting-delay: 1500ms\nrabbitmq-publish-timeout: 0.1\nmax-delivertime: 2d\nstorage-ttl: 1h\nretry-interval: 60;5m, 1h\n');
  assert.equal(config['smtp-timeout'], 300);
  assert.equal(config['smtp-greeting-delay'], 1.5);
  assert.equal(config['rabbitmq-publish-timeout'], 0.1);
  assert.equal(config['max-delivertime'], 172800);
  assert.equal(config['storage-ttl'], 3600);
  assert.deepEqual(config['retry-interval'], [60, 300, 3600]);
});

test('sizes: KB/MB/GB are 1024-based and case-insensitive (I14)', () => {
  assert.equal(loadText('smtp-maxsize: 10kb\n').config['smtp-maxsize'], 10240);
  assert.equal(loadText('smtp-maxsize: 1GB\n').config['smtp-maxsize'], 1073741824);
  assert.equal(loadText('smtp-maxsize: 512 B\n').config['smtp-maxsize'], 512);
});

test('lists accept "," and ";" for every list key', () => {
  const { config } = loadText('smtp-port: 25;2525\nsmtp-check: spf;DKIM, dmarc\nsmtp-range: 10.0.0.0/8, ::1\nsmtp-auth-results: local;nonlocal\n');
  assert.deepEqual(config['smtp-port'], [25, 2525]);
  assert.deepEqual(config['smtp-check'], ['spf', 'dkim', 'dmarc']);
  assert.deepEqual(config['smtp-range'].entries, ['10.0.0.0/8', '::1']);
  assert.deepEqual(config['smtp-auth-results'], ['local', 'nonlocal']);
});

test('bad size, duration, boolean, enum and port values name file, line, key, expectation and input', () => {
  const cases: [string, RegExp][] = [
    ['smtp-maxsize: 100XB', /^etc\/mtaq\.conf:2: smtp-maxsize: expected a size like "100MB".*got "100XB"/],
    ['smtp-timeout: soon', /^etc\/mtaq\.conf:2: smtp-timeout: expected a duration.*got "soon"/],
    ['smtp-extract: maybe', /^etc\/mtaq\.conf:2: smtp-extract: expected a boolean.*got "maybe"/],
    ['smtp-validate-address: lax', /^etc\/mtaq\.conf:2: smtp-validate-address: expected one of strict, loose, got "lax"/],
    ['log-level: loud', /^etc\/mtaq\.conf:2: log-level: expected one of fatal, error, warn, info, debug, trace, got "loud"/],
    ['smtp-check: spf,virus', /^etc\/mtaq\.conf:2: smtp-check: expected a list of spf, dkim, dmarc, spam, arc, got "spf,virus" \(unknown "virus"\)/],
    ['smtp-port: abc', /^etc\/mtaq\.conf:2: smtp-port: expected a port list like "25,2525,1024-1026", got "abc"/],
    ['smtp-port: 70000', /ports are 1-65535/],
    ['smtp-port: 1026-1024', /runs backwards/],
    ['smtp-range: 10.0.0.0/8;nonsense', /smtp-range: expected a list of IP addresses or CIDR ranges.*"nonsense"/],
    ['smtp-default-ips: 1.2.3.4;host.example', /"host\.example" is not an IP address/],
    ['rabbitmq-qos: -1', /rabbitmq-qos: expected an integer from 0 to 65535, got "-1"/],
    ['server-id: 5000', /server-id: expected an integer from 0 to 1295, got "5000" \(out of range\)/],
    ['smtp-auth: carrier-pigeon://x', /smtp-auth: expected a URL/],
    ['rabbitmq-outbox: amq.outbox', /reserved by RabbitMQ/],
  ];
  for (const [line, pattern] of cases) {
    const err = loadError(() => loadText(`# line one\n${line}\n`));
    assert.match(err.message, pattern, line);
    assert.equal(err.line, 2);
    assert.equal(err.file, 'etc/mtaq.conf');
    assert.equal(err.given, line.slice(line.indexOf(':') + 1).trim());
    assert.ok(err.expected.length > 0);
  }
});

test('bad command-line and environment values name their location', () => {
  const cli = loadError(() => load({ argv: ['--smtp-port', 'abc'] }));
  assert.equal(cli.message, 'command line --smtp-port: expected a port list like "25,2525,1024-1026", got "abc"');
  assert.equal(cli.file, 'command line');
  assert.equal(cli.line, undefined);
  const env = loadError(() => load({ env: { MTAQ_SMTP_PORT: 'abc' } }));
  assert.equal(env.message, 'environment MTAQ_SMTP_PORT: expected a port list like "25,2525,1024-1026", got "abc"');
  assert.equal(env.key, 'smtp-port');
});

test('every error of one load is reported at once', () => {
  const err = loadError(() =>
    load({
      files: { 'etc/mtaq.conf': 'smtp-port: abc\nsmtp-maxsize: huge\nthis line has no colon\nsmtp-timeout: 10\ndns-min-ttl: 0\n' },
      argv: ['--rabbitmq-qos', 'many'],
      env: { MTAQ_SMTP_EXTRACT: 'perhaps' },
    }),
  );
  assert.equal(err.errors.length, 6);
  assert.deepEqual(
    err.errors.map((e) => e.location),
    ['etc/mtaq.conf:1', 'etc/mtaq.conf:2', 'etc/mtaq.conf:3', 'etc/mtaq.conf:5', 'command line --rabbitmq-qos', 'environment MTAQ_SMTP_EXTRACT'],
  );
  for (const part of ['etc/mtaq.conf:1: smtp-port', 'etc/mtaq.conf:2: smtp-maxsize', 'etc/mtaq.conf:3: expected a "name: value" line', 'etc/mtaq.conf:5: dns-min-ttl', 'command line --rabbitmq-qos', 'environment MTAQ_SMTP_EXTRACT']) {
    assert.ok(err.message.includes(part), `message lacks ${part}:\n${err.message}`);
  }
  assert.match(err.message, /^6 configuration errors:\n/);
});

test('unknown file keys warn with file:line and a suggestion, and do not fail', () => {
  const { warnings, config } = loadText('smtp-port: 2525\n\nsmtp-prot: 25\nmystery-setting: 8485\n');
  assert.deepEqual(config['smtp-port'], [2525]);
  assert.equal(warnings.length, 2);
  assert.equal(warnings[0]?.message, 'etc/mtaq.conf:3: unknown key "smtp-prot" (did you mean "smtp-port"?)');
  assert.equal(warnings[0]?.line, 3);
  assert.equal(warnings[0]?.file, 'etc/mtaq.conf');
  assert.equal(warnings[1]?.message, 'etc/mtaq.conf:4: unknown key "mystery-setting"');
});

test('unknown MTAQ_* environment variables warn (MTAQ_DEBUG is the CLI\'s own)', () => {
  const { warnings } = load({ env: { MTAQ_SMTP_PROT: '25', MTAQ_SMTP_PORT: '25', MTAQ_DEBUG: '1' } });
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]?.message, 'environment MTAQ_SMTP_PROT: unknown key "smtp-prot" (did you mean "smtp-port"?)');
});

test('a missing --config-file is an error; a missing ./etc/mtaq.conf is not', () => {
  const err = loadError(() => load({ argv: ['--config-file', 'nope.conf'] }));
  assert.equal(err.message, 'command line --config-file: cannot read config file "nope.conf": no such file');
  assert.equal(err.key, 'config-file');
  const envErr = loadError(() => load({ env: { MTAQ_CONFIG_FILE: 'gone.conf' } }));
  assert.match(envErr.message, /^environment MTAQ_CONFIG_FILE: cannot read config file "gone\.conf"/);
  const none = load();
  assert.deepEqual(none.files, []);
  assert.deepEqual(none.config['smtp-port'], [25]);
  assert.equal(none.sources.get('smtp-port'), 'default');
});

test('--config-file replaces ./etc/mtaq.conf and may be given by MTAQ_CONFIG_FILE', () => {
  const files = { 'etc/mtaq.conf': 'smtp-port: 1000\n', 'other.conf': 'smtp-port: 2000\n' };
  assert.deepEqual(load({ files }).config['smtp-port'], [1000]);
  assert.deepEqual(load({ files, argv: ['--config-file', 'other.conf'] }).config['smtp-port'], [2000]);
  assert.deepEqual(load({ files, env: { MTAQ_CONFIG_FILE: 'other.conf' } }).config['smtp-port'], [2000]);
});

test('the system file is read when it exists and skipped when it does not', () => {
  const cwd = workdir({ 'sys.conf': 'smtp-port: 1111\n' });
  const withSystem = loadConfig({ cwd, argv: [], env: {}, systemFile: `${cwd}/sys.conf` });
  assert.deepEqual(withSystem.config['smtp-port'], [1111]);
  assert.equal(withSystem.sources.get('smtp-port'), 'sys.conf:1');
  const missing = loadConfig({ cwd, argv: [], env: {}, systemFile: `${cwd}/absent.conf` });
  assert.deepEqual(missing.config['smtp-port'], [25]);
});

test('the config object is deep-frozen', () => {
  const { config } = loadText('smtp-port: 25,26\n');
  assert.equal(Object.isFrozen(config), true);
  assert.equal(Object.isFrozen(config['smtp-port']), true);
  assert.equal(Object.isFrozen(config['smtp-range']), true);
  assert.throws(() => {
    (config as { 'smtp-port': unknown })['smtp-port'] = [1];
  }, TypeError);
  assert.throws(() => {
    (config['smtp-port'] as number[]).push(1);
  }, TypeError);
});

test('smtp-hostname defaults to the OS host name; cluster-address to rabbitmq-address', () => {
  const { config, sources } = loadText('rabbitmq-address: amqps://a:b@broker:5671/mail\n');
  assert.equal(config['smtp-hostname'], hostname());
  assert.deepEqual(config['cluster-address'], ['amqps://a:b@broker:5671/mail']);
  assert.equal(sources.get('cluster-address'), 'default (= rabbitmq-address)');
  assert.equal(loadText('smtp-hostname: mx1.test\n').config['smtp-hostname'], 'mx1.test');
});

test('legacy rabbitmq-host/user/password/vhost build the address when rabbitmq-address is not set', () => {
  const built = loadText('rabbitmq-host: mq.local:5673\nrabbitmq-user: mail\nrabbitmq-password: p@ss\nrabbitmq-vhost: prod\n');
  assert.deepEqual(built.config['rabbitmq-address'], ['amqp://mail:p%40ss@mq.local:5673/prod']);
  assert.match(built.sources.get('rabbitmq-address') ?? '', /^etc\/mtaq\.conf:1 \(built from rabbitmq-host/);
  assert.deepEqual(loadText('rabbitmq-host: h\n').config['rabbitmq-address'], ['amqp://guest:guest@h/']);

  const bad = loadError(() => loadText('rabbitmq-vhost: v\nrabbitmq-host: bad host\nrabbitmq-password: hush\n'));
  assert.match(bad.message, /^etc\/mtaq\.conf:2: rabbitmq-host: expected a name without spaces/);
  const badBuilt = loadError(() => loadText('rabbitmq-host: [oops\nrabbitmq-password: hush\n'));
  assert.match(badBuilt.message, /^etc\/mtaq\.conf:1 \(built from rabbitmq-host, rabbitmq-password\): rabbitmq-address: expected amqp/);
  assert.ok(!badBuilt.message.includes('hush'), badBuilt.message);

  const ignored = loadText('rabbitmq-address: amqp://x:y@real/\nrabbitmq-host: other\n');
  assert.deepEqual(ignored.config['rabbitmq-address'], ['amqp://x:y@real/']);
  assert.match(ignored.warnings[0]?.message ?? '', /rabbitmq-host ignored because rabbitmq-address is set/);
});

test('rabbitmq-address: multi-node forms, ports, amqps, query strings and errors', () => {
  const { config } = loadText('rabbitmq-address: amqps://u:p@h1:5671;[::1]:5672/v?heartbeat=5; amqp://u:p@h3/v\n');
  assert.deepEqual(config['rabbitmq-address'], ['amqps://u:p@h1:5671/v?heartbeat=5', 'amqps://u:p@[::1]:5672/v?heartbeat=5', 'amqp://u:p@h3/v']);
  const err = loadError(() => loadText('rabbitmq-address: http://u:secretpw@h/\n'));
  assert.match(err.message, /rabbitmq-address: expected amqp\[s\]:\/\/user:pass@host/);
  assert.ok(!err.message.includes('secretpw'), err.message);
  loadError(() => loadText('rabbitmq-address:\n'));
  loadError(() => loadText('rabbitmq-address: amqp://u:p@h1;;h2/v\n'));
  loadError(() => loadText('rabbitmq-address: amqp://h:99999/\n'));
});

test('cross-key checks name the key and where its value was set', () => {
  const secure = loadError(() => loadText('smtp-port: 25\nsmtp-secure-port: 465\n'));
  assert.equal(secure.message, 'etc/mtaq.conf:2: smtp-secure-port: needs smtp-certificate and smtp-key for TLS from the first byte, but smtp-certificate and smtp-key are not set');
  assert.equal(secure.line, 2);
  assert.equal(secure.key, 'smtp-secure-port');
  const noKey = loadError(() => loadText('smtp-certificate: /tls/cert.pem\n'));
  assert.equal(noKey.message, 'etc/mtaq.conf:1: smtp-certificate: needs smtp-key (the private key of the certificate), which is not set');
  const cli = loadError(() => load({ argv: ['--smtp-key', '/k.pem'] }));
  assert.equal(cli.message, 'command line --smtp-key: needs smtp-certificate, which is not set');
  const clash = loadError(() => loadText('smtp-certificate: /c\nsmtp-key: /k\nsmtp-port: 25,465\nsmtp-secure-port: 465\n'));
  assert.match(clash.message, /smtp-secure-port: port 465 is also in smtp-port/);
  const quorum = loadError(() => loadText('rabbitmq-quorum: true\nrabbitmq-durable: false\n'));
  assert.match(quorum.message, /^etc\/mtaq\.conf:2: rabbitmq-durable: must be true/);
  // quorum queues have no priorities: the pair is refused, naming the line of rabbitmq-maxpriority
  const priorities = loadError(() => loadText('rabbitmq-quorum: true\nrabbitmq-maxpriority: 10\n'));
  assert.match(priorities.message, /^etc\/mtaq\.conf:2: rabbitmq-maxpriority: must be 0 \(or unset\) when rabbitmq-quorum is on/);
  assert.equal(loadText('rabbitmq-quorum: true\nrabbitmq-maxpriority: 0\n').config['rabbitmq-quorum'], true);
  const ok = loadText('smtp-certificate: /c\nsmtp-key: /k\nsmtp-secure-port: 465\n');
  assert.deepEqual(ok.config['smtp-secure-port'], [465]);
});

test('cross-key warnings do not fail the load', () => {
  const { warnings } = loadText('rabbitmq-qos: 50\nsmtp-auth: hardcoded://a:b\n');
  const messages = warnings.map((w) => w.message);
  assert.ok(messages.some((m) => m.startsWith('etc/mtaq.conf:1: rabbitmq-qos: is below rabbitmq-minqos (100)')), messages.join('\n'));
  assert.ok(messages.some((m) => m.startsWith('etc/mtaq.conf:2: smtp-auth: clients can only authenticate after STARTTLS')), messages.join('\n'));
});

test('project keys have their documented defaults', () => {
  const { config } = loadText('');
  assert.equal(config['smtp-greeting-delay'], 0);
  assert.equal(config['smtp-greeting-delay-exempt'].isEmpty, true);
  assert.equal(config['smtp-threads'], 1);
  assert.equal(config['smtp-max-recipients'], 1000);
  assert.equal(config['dsn-advertise'], true);
  assert.equal(config['log-level'], 'info');
  assert.equal(config['rabbitmq-quorum'], false);
  assert.equal(config['rabbitmq-publish-timeout'], 60);
  assert.equal(config['rabbitmq-reconnect-delay'], 1);
  assert.equal(config['server-id'], 1);
  assert.deepEqual(config['smtp-ip'], []);
  assert.equal(config['rabbitmq-maxpriority'], 0);
  assert.equal(config['dsn-notify'], 'NEVER');
  assert.equal(config['dsn-ret'], 'HDRS');
});

test('enum and list values are stored in canonical case', () => {
  const { config } = loadText('dsn-notify: delay, failure\ndsn-ret: full\nsmtp-validate-address: LOOSE\nrabbitmq-encoding: GZIP\n');
  assert.equal(config['dsn-notify'], 'FAILURE,DELAY');
  assert.equal(config['dsn-ret'], 'FULL');
  assert.equal(config['smtp-validate-address'], 'loose');
  assert.equal(config['rabbitmq-encoding'], 'gzip');
  assert.match(loadError(() => loadText('dsn-notify: never,failure\n')).message, /NEVER cannot be combined/);
});

test('smtp-ip is a list of addresses; IPv4-mapped addresses are normalised', () => {
  const { config } = loadText('smtp-ip: 10.0.0.5, ::FFFF:192.0.2.1; 2001:DB8::1\n');
  assert.deepEqual(config['smtp-ip'], ['10.0.0.5', '192.0.2.1', '2001:db8::1']);
});

test('configFromValues builds a complete config without files', () => {
  const { config, sources } = configFromValues({ 'smtp-port': '2525', 'smtp-privatekey': '/k', 'smtp-certificate': '/c' });
  assert.deepEqual(config['smtp-port'], [2525]);
  assert.equal(config['smtp-key'], '/k');
  assert.equal(sources.get('smtp-port'), 'override smtp-port');
  assert.throws(() => configFromValues({ 'smtp-prot': '1' }), ConfigError);
  assert.throws(() => configFromValues({ 'smtp-port': 'x' }), /override smtp-port: expected a port list/);
});

test('Config property types follow the schema table', () => {
  const { config } = configFromValues();
  const ports: readonly number[] = config['smtp-port'];
  const range: CidrList = config['smtp-range'];
  const maxsize: number = config['smtp-maxsize'];
  const inbox: string = config['rabbitmq-inbox'];
  const extract: boolean = config['smtp-extract'];
  const level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' = config['log-level'];
  const checks: readonly ('spf' | 'dkim' | 'dmarc' | 'spam' | 'arc')[] = config['smtp-check'];
  const nodes: readonly string[] = config['rabbitmq-address'];
  // @ts-expect-error aliases and unknown names are not properties of Config
  void config['smtp-defaultips'];
  assert.deepEqual([ports, range.size, maxsize, inbox, extract, level, checks, nodes], [[25], 0, 104857600, 'outbox', true, 'info', [], ['amqp://guest:guest@localhost/']]);
});

test('key names are matched case-insensitively and still count as canonical', () => {
  const { config } = loadText('SMTP-Key: /upper.pem\nsmtp-privatekey: /alias.pem\nsmtp-certificate: /c.pem\n');
  assert.equal(config['smtp-key'], '/upper.pem');
});

test('a result queue that is delivery\'s own outbox (or a delay queue of it) is a config error; the dsn queue may be the outbox', () => {
  assert.throws(() => configFromValues({ 'rabbitmq-outbox': 'out', 'rabbitmq-results': 'out' }), /rabbitmq-results: "out" is delivery's own outbox/);
  assert.throws(() => configFromValues({ 'rabbitmq-outbox': 'out', 'rabbitmq-retry': 'out.delay.60' }), /rabbitmq-retry: .*delay or park queue/);
  assert.doesNotThrow(() => configFromValues({ 'rabbitmq-outbox': 'out', 'rabbitmq-dsn': 'out', 'rabbitmq-results': 'results' }));
});
