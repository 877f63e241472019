import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { CLI, ROOT, runCli, startMtaq, writeConfig } from './helpers/process.js';

async function withStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

test('mtaq password --hash sha512-crypt matches openssl passwd -6 with the same salt', async () => {
  const out = await withStdin(['password', '--hash', 'sha512-crypt', '--config-file', '/dev/null'], 's3cret\n');
  assert.equal(out.code, 0, out.stderr);
  const hash = out.stdout.trim();
  const salt = /^\$6\$([^$]+)\$/.exec(hash)?.[1];
  assert.ok(salt, hash);
  assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, 's3cret']).toString().trim(), hash);
  assert.ok(!out.stderr.includes('s3cret'));
});

test('mtaq password defaults to bcrypt in the concentrator format; bad schemes are refused', async () => {
  const out = await withStdin(['password', '--config-file', '/dev/null'], 'pw\n');
  assert.match(out.stdout.trim(), /^bcrypt:\$2[aby]\$\d\d\$.{53}$/);
  const bad = await withStdin(['password', '--hash', 'md5', '--config-file', '/dev/null'], 'pw\n');
  assert.equal(bad.code, 2);
});

// ------------------------------------------------------------------ configuration warnings

const NO_EFFECT = 'has no effect in this version (not implemented yet)';

test('mtaq config keys shows each key with its status', async () => {
  const out = await runCli(['config', 'keys', '--config-file', '/dev/null']);
  assert.equal(out.code, 0, out.stderr);
  const row = (key: string): string[] => out.stdout.split('\n').find((line) => line.startsWith(`${key} `))?.split(/\s+/) ?? [];
  assert.deepEqual(row('smtp-port').slice(0, 3), ['smtp-port', 'implemented', '25']);
  assert.deepEqual(row('smtp-check').slice(0, 2), ['smtp-check', 'implemented']);
  assert.deepEqual(row('storage-ttl').slice(0, 2), ['storage-ttl', 'unsupported']);
  assert.match(out.stdout, /^KEY\s+STATUS\s+DEFAULT\s+MEANING\n/);
});

test('config check prints unknown and unsupported keys with file:line and exits 0; --strict and config-strict make them errors (78)', async () => {
  // a loopback listener: no exposure warning (ingress-connections.test.ts has that one)
  const file = writeConfig('smtp-port: 2525\nstorage-ttl: 5\nsmtp-prot: 25\nsmtp-ip: 127.0.0.1\n');
  const expected = [`${file}:2: storage-ttl: ${NO_EFFECT}`, `${file}:3: unknown key "smtp-prot" (did you mean "smtp-port"?)`];

  const lenient = await runCli(['config', 'check', '--config-file', file], { MTAQ_SPOOL_THREADS: '2' });
  assert.equal(lenient.code, 0, lenient.stderr);
  for (const message of [...expected, `environment MTAQ_SPOOL_THREADS: ${NO_EFFECT}`]) {
    assert.ok(lenient.stderr.includes(`mtaq: warning: ${message}\n`), lenient.stderr);
  }
  assert.match(lenient.stderr, /configuration is valid \(3 warnings above\)/);
  assert.match(lenient.stdout, /^storage-ttl: +5$/m);

  const strict = await runCli(['config', 'check', '--strict', '--config-file', file]);
  assert.equal(strict.code, 78, strict.stderr);
  assert.equal(strict.stderr, `mtaq: configuration error (--strict: warnings count as errors)\n${expected.join('\n')}\n`);
  assert.equal(strict.stdout, '');

  const strictFile = writeConfig('config-strict: true\nstorage-ttl: 5\n');
  const byKey = await runCli(['config', 'check', '--config-file', strictFile]);
  assert.equal(byKey.code, 78);
  assert.equal(byKey.stderr, `mtaq: configuration error (config-strict: warnings count as errors)\n${strictFile}:2: storage-ttl: ${NO_EFFECT}\n`);

  // a service refuses to start the same way, before opening anything
  const service = await runCli(['ingress', '--config-file', strictFile, '--smtp-ip', '127.0.0.1', '--smtp-port', String(await freePort())]);
  assert.equal(service.code, 78);
  assert.match(service.stderr, /^mtaq: configuration error \(config-strict/);

  const clean = await runCli(['config', 'check', '--strict', '--config-file', writeConfig('smtp-port: 2525\nsmtp-ip: 127.0.0.1\n')]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.equal(clean.stderr, 'configuration is valid\n');
});

// ------------------------------------------------------------------ queue peek failures

/** Exactly one line on stderr, and no stack trace in it. */
function oneLine(stderr: string): string {
  assert.equal(stderr.split('\n').filter(Boolean).length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /, stderr);
  return stderr.trim();
}

test('queue peek: a queue that does not exist is one line, exit 66', async () => {
  const queue = uniqueName('missing');
  const out = await runCli(['queue', 'peek', queue, '--config-file', '/dev/null', '--rabbitmq-address', AMQP_URL]);
  assert.equal(oneLine(out.stderr), `mtaq queue peek: queue "${queue}" does not exist`);
  assert.equal(out.code, 66);
});

test('queue peek: a broker that is down is one line naming the address (password masked), exit 69', async () => {
  const port = await freePort();
  const address = `amqp://guest:guest@127.0.0.1:${port}/`;
  const out = await runCli(['queue', 'peek', 'x', '--config-file', '/dev/null', '--rabbitmq-address', address]);
  assert.equal(oneLine(out.stderr), `mtaq queue peek: cannot reach RabbitMQ at amqp://guest:********@127.0.0.1:${port}/ (ECONNREFUSED)`);
  assert.equal(out.code, 69);
});

test('queue peek: a wrong broker password is one line naming the user, exit 78', async () => {
  const address = new URL(AMQP_URL);
  address.password = 'certainly-wrong';
  const out = await runCli(['queue', 'peek', 'x', '--config-file', '/dev/null', '--rabbitmq-address', address.href]);
  const line = oneLine(out.stderr);
  assert.match(line, /^mtaq queue peek: RabbitMQ at amqp:\/\/guest:\*{8}@.* refused the login for user "guest" \(ACCESS_REFUSED\); check rabbitmq-address$/);
  assert.doesNotMatch(line, /certainly-wrong/);
  assert.equal(out.code, 78);
});

test('an unexpected failure is one line without a stack, unless MTAQ_DEBUG=1', async () => {
  // a message that is not JSON makes peek fail in a way no handler expects
  const broker = await TestBroker.open();
  const queue = uniqueName('garbage');
  try {
    await broker.channel.assertQueue(queue, { durable: false });
    broker.channel.sendToQueue(queue, Buffer.from('not json'));
    await broker.count(queue);
    const args = ['queue', 'peek', queue, '--config-file', '/dev/null', '--rabbitmq-address', AMQP_URL];
    const quiet = await runCli(args, { MTAQ_DEBUG: '' });
    assert.match(oneLine(quiet.stderr), /^mtaq: body is not valid JSON: .* \(MTAQ_DEBUG=1 shows where\)$/);
    assert.equal(quiet.code, 1);
    const debug = await runCli(args, { MTAQ_DEBUG: '1' });
    assert.match(debug.stderr, /^mtaq: EnvelopeError: body is not valid JSON[^\n]*\n\s+at /);
    assert.equal(debug.code, 1);
  } finally {
    await broker.deleteQueues(queue);
    await broker.close();
  }
});

// ------------------------------------------------------------------ help per command

test('mtaq <command> --help prints that command\'s usage and options, exit 0', async () => {
  const global = await runCli(['--help']);
  assert.equal(global.code, 0);
  const expected: Record<string, RegExp[]> = {
    pipeline: [/^Usage: mtaq pipeline /, /--config-strict/, /Delivery: .*delivery-method/s, /SMTP ingress: smtp-port/],
    ingress: [/^Usage: mtaq ingress /, /SMTP ingress: smtp-port/, /rabbitmq-inbox/],
    delivery: [/^Usage: mtaq delivery /, /delivery-folder/, /dns-servers/],
    config: [/^Usage: mtaq config check \[--strict\]/, /mtaq config keys/, /--strict +warnings are errors/],
    queue: [/^Usage: mtaq queue peek \[QUEUE\] \[--count N\]/, /--count N +how many messages/, /66 no such queue/],
    password: [/^Usage: mtaq password \[--hash SCHEME\]/, /sha512-crypt/],
  };
  for (const [command, patterns] of Object.entries(expected)) {
    // a broken config file must not stand in the way of help
    const out = await runCli([command, '--help', '--config-file', '/nonexistent.conf']);
    assert.equal(out.code, 0, `${command}: ${out.stderr}`);
    assert.notEqual(out.stdout, global.stdout, command);
    for (const pattern of patterns) assert.match(out.stdout, pattern, `${command} --help`);
  }
  // unsupported keys are not offered as settings
  assert.doesNotMatch((await runCli(['ingress', '--help'])).stdout, /rabbitmq-flush-qos/);
  assert.match((await runCli(['ingress', '--help'])).stdout, /smtp-check/);
  assert.equal((await runCli(['help', 'queue'])).stdout, (await runCli(['queue', '-h'])).stdout);
  assert.equal((await runCli(['queue', 'peek', '--help'])).stdout, (await runCli(['queue', '-h'])).stdout);
});

// ------------------------------------------------------------------ start-up log

test('ingress, delivery and pipeline log the config files they read', async () => {
  const broker = await TestBroker.open();
  const queue = uniqueName('loaded');
  const folder = mkdtempSync(join(tmpdir(), 'mtaq-folder-'));
  try {
    for (const command of ['ingress', 'delivery', 'pipeline']) {
      const port = await freePort();
      const file = writeConfig(
        [
          `rabbitmq-address: ${AMQP_URL}`, `rabbitmq-inbox: ${queue}`, `rabbitmq-outbox: ${queue}`,
          'smtp-ip: 127.0.0.1', `smtp-port: ${port}`, `delivery-folder: ${folder}`, 'redis-address:',
        ].join('\n'),
      );
      const mtaq = await startMtaq(command, ['--config-file', file], { env: { MTAQ_CONFIG_FILE: '' } });
      try {
        const loaded = mtaq.logs.find((entry) => entry['msg'] === 'configuration loaded');
        assert.ok(loaded, `${command}: no "configuration loaded" line`);
        assert.deepEqual(loaded['files'], [file], command);
      } finally {
        assert.equal(await mtaq.stop(), 0, command);
      }
    }
  } finally {
    await broker.deleteQueues(queue);
    await broker.close();
  }
});

/** A delivery config of a test's own: its outbox, the folder method, plus `lines`. */
function deliveryConfig(lines: string[]): { file: string; outbox: string } {
  const outbox = uniqueName('cli-priv');
  const file = writeConfig([`rabbitmq-address: ${AMQP_URL}`, `rabbitmq-outbox: ${outbox}`, `rabbitmq-inbox: ${outbox}`, 'redis-address:', 'delivery-method: folder', ...lines].join('\n'));
  return { file, outbox };
}

test('user: delivery gives up root once started and runs as that user (tested as root)', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'mtaq-priv-'));
  chmodSync(folder, 0o777);
  const { file, outbox } = deliveryConfig(['user: nobody', 'group: nogroup', `delivery-folder: ${folder}/mail`]);
  const mtaq = await startMtaq('delivery', ['--config-file', file]);
  try {
    for (let i = 0; i < 50 && !mtaq.logs.some((l) => l['msg'] === 'running as an unprivileged user'); i++) await new Promise((r) => setTimeout(r, 20));
    const status = readFileSync(`/proc/${mtaq.child.pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    const gid = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status);
    const nobody = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
    const nogroup = Number(execFileSync('getent', ['group', 'nogroup']).toString().split(':')[2]);
    assert.deepEqual([Number(uid?.[1]), Number(uid?.[2])], [nobody, nobody], 'real and effective uid are nobody');
    assert.deepEqual([Number(gid?.[1]), Number(gid?.[2])], [nogroup, nogroup], 'real and effective gid are nogroup');
  } finally {
    assert.equal(await mtaq.stop(), 0);
    const broker = await TestBroker.open();
    await broker.deleteQueues(outbox);
    await broker.close();
  }
});

test('user: a folder that user cannot write stops start-up with one line naming the key, exit 78', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
  const locked = mkdtempSync(join(tmpdir(), 'mtaq-priv-')); // 0700, root's
  const { file, outbox } = deliveryConfig(['user: nobody', `delivery-folder: ${locked}/mail`]);
  const { code, stderr } = await runCli(['delivery', '--config-file', file]);
  assert.equal(code, 78);
  assert.match(stderr, new RegExp(`delivery-folder: user "nobody" cannot write ${locked}/mail \\(EACCES\\)`));
  const broker = await TestBroker.open();
  await broker.deleteQueues(outbox);
  await broker.close();
});

test('lock: a second instance with the same lock file refuses to start (exit 75); the file goes when the first stops', async () => {
  const lock = join(mkdtempSync(join(tmpdir(), 'mtaq-lock-')), 'mtaq.pid');
  const folder = mkdtempSync(join(tmpdir(), 'mtaq-lock-mail-'));
  const { file, outbox } = deliveryConfig([`lock: ${lock}`, `delivery-folder: ${folder}`]);
  const first = await startMtaq('delivery', ['--config-file', file]);
  try {
    assert.equal(readFileSync(lock, 'utf8').trim(), String(first.child.pid));
    const second = await runCli(['delivery', '--config-file', file]);
    assert.equal(second.code, 75);
    assert.match(second.stderr, new RegExp(`lock: ${lock} is held by process ${first.child.pid}`));
  } finally {
    assert.equal(await first.stop(), 0);
  }
  assert.equal(existsSync(lock), false, 'removed at exit');
  // a stale file (its process is gone) is taken over
  writeFileSync(lock, '999999\n');
  const third = await startMtaq('delivery', ['--config-file', file]);
  assert.equal(readFileSync(lock, 'utf8').trim(), String(third.child.pid));
  await third.stop();
  const broker = await TestBroker.open();
  await broker.deleteQueues(outbox);
  await broker.close();
});
