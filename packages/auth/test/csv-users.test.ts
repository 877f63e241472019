import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AuthConfigError, CsvUsers, cramMd5Response, hashPassword, type CsvUsersOptions } from '../src/index.js';
import { delay, login, run, tempDir } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const COLUMNS = { username: 1, password: 2, network: 3 };

function users(source: string, extra: Partial<CsvUsersOptions> = {}): CsvUsers {
  return new CsvUsers({ source, columns: COLUMNS, header: false, reloadInterval: 0, allowPlainPasswords: false, timeout: 2, ...extra });
}

test('the concentrator seed example file loads verbatim: multi-line quoted names, wrapped hashes, networks', async () => {
  const csv = users(join(FIXTURES, 'concentrator-users.csv'), { allowPlainPasswords: true });
  await csv.start();
  assert.equal(csv.size, 7);
  const from = (ip: string) => ({ remoteAddress: ip });
  assert.deepEqual(await csv.authenticate(login('user1', 'password1', from('203.0.113.1'))), { ok: true, user: 'user1' });
  assert.equal((await csv.authenticate(login('user2', 'password2', from('192.168.0.1')))).ok, true);
  const outside = await csv.authenticate(login('user2', 'password2', from('192.168.0.2')));
  assert.equal(!outside.ok && outside.reason, 'network');
  assert.equal((await csv.authenticate(login('user3', 'password3', from('10.0.200.1')))).ok, true);
  assert.equal((await csv.authenticate(login('user3', 'password3', from('::ffff:10.0.200.1')))).ok, true);
  assert.equal((await csv.authenticate(login('user4', 'password4', from('203.0.113.1')))).ok, true);
  assert.equal((await csv.authenticate(login('user5', 'password5', from('203.0.113.1')))).ok, true);
  assert.equal((await csv.authenticate(login('user6', 'password6', from('203.0.113.1')))).ok, true);
  assert.equal((await csv.authenticate(login('user7', 'password7', from('192.168.0.77')))).ok, true);
  const wrongNet = await csv.authenticate(login('user7', 'password7', from('192.168.1.77')));
  assert.equal(!wrongNet.ok && wrongNet.reason, 'network');
  // The network is only revealed to someone who knows the password.
  const wrongBoth = await csv.authenticate(login('user7', 'password6', from('192.168.1.77')));
  assert.equal(!wrongBoth.ok && wrongBoth.reason, 'invalid');
  assert.equal((await csv.authenticate(login('user5', 'password6'))).ok, false);
});

test('clear-text passwords are refused unless allowed (insecure-password), hashed users still work', async () => {
  const csv = users(join(FIXTURES, 'concentrator-users.csv'));
  await csv.start();
  assert.equal(csv.plainSecrets, false);
  const plain = await csv.authenticate(login('user1', 'password1'));
  assert.equal(!plain.ok && plain.reason, 'insecure-password');
  const plainWrong = await csv.authenticate(login('user1', 'whatever'));
  assert.equal(!plainWrong.ok && plainWrong.reason, 'insecure-password');
  assert.equal((await csv.authenticate(login('user4', 'password4'))).ok, true);
});

test('every password format, header line, CRAM-MD5 for clear-text users', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'users.csv');
  const sha6 = (await run('openssl', ['passwd', '-6', 'p-six'])).stdout.trim();
  const sha5 = (await run('openssl', ['passwd', '-5', 'p-five'])).stdout.trim();
  const rows = [
    ['name', 'user', 'password', 'network'],
    ['Plain', 'plain', 'p "plain", with comma', ''],
    ['Bcrypt', 'bcrypt', await hashPassword('p-bcrypt', 'bcrypt', { cost: 4 }), ''],
    ['Bare bcrypt', 'bare', (await hashPassword('p-bare', 'bcrypt', { cost: 4 })).slice('bcrypt:'.length), ''],
    ['SHA256', 'sha256', await hashPassword('p-256', 'sha256'), ''],
    ['SHA384', 'sha384', await hashPassword('p-384', 'sha384'), ''],
    ['SHA512', 'sha512', await hashPassword('p-512', 'sha512'), '2001:db8::/32'],
    ['Crypt 6', 'crypt6', sha6, '127.0.0.1'],
    ['Crypt 5', 'crypt5', sha5, ''],
  ];
  await writeFile(file, rows.map((row) => row.map((field) => `"${field.replaceAll('"', '""')}"`).join(',')).join('\r\n'));
  const csv = users(file, { header: true, allowPlainPasswords: true });
  await csv.start();
  assert.equal(csv.size, 8, 'the header is not a user');
  assert.equal(csv.plainSecrets, true);
  const cases: [string, string, string?][] = [
    ['plain', 'p "plain", with comma'],
    ['bcrypt', 'p-bcrypt'],
    ['bare', 'p-bare'],
    ['sha256', 'p-256'],
    ['sha384', 'p-384'],
    ['sha512', 'p-512', '2001:db8:1::5'],
    ['crypt6', 'p-six'],
    ['crypt5', 'p-five'],
  ];
  for (const [user, password, ip = '127.0.0.1'] of cases) {
    assert.deepEqual(await csv.authenticate(login(user, password, { remoteAddress: ip })), { ok: true, user }, user);
    assert.equal((await csv.authenticate(login(user, `${password}x`, { remoteAddress: ip }))).ok, false, user);
  }
  assert.equal((await csv.authenticate(login('name', 'password'))).ok, false);
  const challenge = '<42.1@mtaq.test>';
  const cram = { username: 'plain', method: 'CRAM-MD5' as const, challenge, remoteAddress: '127.0.0.1' };
  assert.equal((await csv.authenticate({ ...cram, challengeResponse: cramMd5Response('p "plain", with comma', challenge) })).ok, true);
  assert.equal((await csv.authenticate({ ...cram, challengeResponse: cramMd5Response('nope', challenge) })).ok, false);
  const hashed = await csv.authenticate({ ...cram, username: 'sha256', challengeResponse: cramMd5Response('p-256', challenge) });
  assert.equal(hashed.ok, false);
  await csv.close();
});

test('reload picks up a changed file; a broken file keeps the previous users', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'users.csv');
  await writeFile(file, `x,alice,${await hashPassword('one', 'sha256')}\n`);
  const csv = users(pathToFileURL(file).href, { reloadInterval: 0.1 });
  t.after(() => csv.close());
  await csv.start();
  assert.equal((await csv.authenticate(login('alice', 'one'))).ok, true);

  await writeFile(file, `x,alice,${await hashPassword('two', 'sha512')}\nx,bob,${await hashPassword('three', 'sha384')},10.0.0.0/8\n`);
  for (let i = 0; i < 100 && csv.size !== 2; i++) await delay(20);
  assert.equal(csv.size, 2, 'reloaded on the interval');
  assert.equal((await csv.authenticate(login('alice', 'one'))).ok, false);
  assert.equal((await csv.authenticate(login('alice', 'two'))).ok, true);
  assert.equal((await csv.authenticate(login('bob', 'three', { remoteAddress: '10.1.2.3' }))).ok, true);

  await writeFile(file, 'x,alice,sha256:nothex:00\n');
  assert.equal(await csv.reload(), false);
  await rm(file);
  assert.equal(await csv.reload(), false);
  await delay(250);
  assert.equal(csv.size, 2);
  assert.equal((await csv.authenticate(login('alice', 'two'))).ok, true, 'previous users stay');
});

test('HTTP source with Basic auth and timeout', async (t) => {
  const body = `"Name","User","Password"\n"A","alice","${await hashPassword('web', 'sha256')}"\n`;
  const expected = `Basic ${Buffer.from('prov:pr0v').toString('base64')}`;
  let hang = false;
  const server = createServer((request, response) => {
    if (hang) return;
    if (request.headers.authorization !== expected) return void response.writeHead(401).end();
    response.writeHead(200, { 'content-type': 'text/csv' }).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/users.csv`;
  const columns = { username: 1, password: 2 };

  const csv = new CsvUsers({ source: url, columns, header: true, reloadInterval: 0, allowPlainPasswords: false, timeout: 0.5, basicAuth: { user: 'prov', pass: 'pr0v' } });
  await csv.start();
  assert.equal((await csv.authenticate(login('alice', 'web'))).ok, true);
  hang = true;
  const started = Date.now();
  assert.equal(await csv.reload(), false, 'a hanging server is a failed reload');
  assert.ok(Date.now() - started < 1500);
  assert.equal((await csv.authenticate(login('alice', 'web'))).ok, true);
  hang = false;

  const unauthorized = new CsvUsers({ source: url, columns, header: true, reloadInterval: 0, allowPlainPasswords: false, timeout: 1 });
  await assert.rejects(unauthorized.start(), (error: unknown) => error instanceof AuthConfigError && /HTTP 401/.test(error.message));
  const inUrl = new CsvUsers({ source: url.replace('http://', 'http://prov:pr0v@'), columns, header: true, reloadInterval: 0, allowPlainPasswords: false, timeout: 1 });
  await inUrl.start();
  assert.equal(inUrl.size, 1, 'credentials in the URL are used as Basic auth');
  const notLoaded = await unauthorized.authenticate(login('alice', 'web'));
  assert.equal(!notLoaded.ok && notLoaded.reason, 'unavailable');
});

test('bad CSV user files fail start() naming file and line', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'users.csv');
  const cases: [string, RegExp][] = [
    ['"A","alice","pw",""\n"B","bob"', /line 2: no password column 2 \(the record has 2 fields/],
    ['"A","alice","pw",""\n"B","","pw"', /line 2: empty user name/],
    ['"A","alice","pw",""\n"B","bob",""', /line 2: user "bob": empty password/],
    ['"A","alice","pw",""\n"B\nmulti","bob","$1$abc$def"', /line 2: user "bob": unsupported crypt hash kind/],
    ['"A","alice","pw",""\n"B","bob","sha256:00:11"', /line 2: user "bob": sha256: the hash must be 64 hex digits/],
    ['"A","alice","pw","10.0.0.0/33"', /line 1: user "alice": "10\.0\.0\.0\/33" has an invalid prefix length/],
    ['"A","alice","pw",""\n"B","alice","pw2"', /line 2: user "alice" is already on line 1/],
    ['"A","alice","pw",""\n"B","bob"x', /line 2: text after a closing quote/],
  ];
  for (const [text, message] of cases) {
    await writeFile(file, text);
    await assert.rejects(users(file, { allowPlainPasswords: true }).start(), (error: unknown) => {
      return error instanceof AuthConfigError && error.message.startsWith(`${file} line`) && message.test(error.message);
    }, text);
  }
  await assert.rejects(users(join(dir, 'missing.csv')).start(), /cannot read CSV users .*missing\.csv/);
  assert.throws(() => users(file, { columns: { username: 0, password: 0 } }), /must differ/);
  assert.throws(() => users(file, { columns: { username: 33, password: 0 } }), /from 0 to 32/);
});
