import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuthConfigError, createAuthBackend, hashPassword } from '../src/index.js';
import { login, run, tempDir } from './helpers.js';

async function openssl(flag: string, password: string): Promise<string> {
  const { stdout } = await run('openssl', ['passwd', flag, password]);
  return stdout.trim();
}

test('C22: file:// with openssl passwd -6 / -5 and bcrypt lines', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'users.txt');
  const bcrypt = (await hashPassword('b-pass', 'bcrypt', { cost: 4 })).slice('bcrypt:'.length);
  await writeFile(
    file,
    [
      '# mtaq users',
      `alice:${await openssl('-6', 's3cret')}`,
      '',
      `bob:${await openssl('-5', 'hunter2')}`,
      `carol:${bcrypt}`,
      `dave:${await hashPassword('d-pass', 'bcrypt', { cost: 4 })}`,
      `erin:${await hashPassword('e-pass', 'sha512-crypt')}\r`,
    ].join('\n'),
  );
  const backend = createAuthBackend(pathToFileURL(file).href, { timeout: 5 });
  assert.equal(backend.name, 'file');
  assert.equal(backend.plainSecrets, false);
  assert.deepEqual(await backend.authenticate(login('alice', 's3cret')), { ok: true, user: 'alice' });
  assert.deepEqual(await backend.authenticate(login('alice', 'wrong')), { ok: false, reason: 'invalid' });
  assert.equal((await backend.authenticate(login('bob', 'hunter2'))).ok, true);
  assert.equal((await backend.authenticate(login('bob', 's3cret'))).ok, false);
  assert.equal((await backend.authenticate(login('carol', 'b-pass'))).ok, true);
  assert.equal((await backend.authenticate(login('dave', 'd-pass'))).ok, true);
  assert.equal((await backend.authenticate(login('erin', 'e-pass'))).ok, true);
  assert.equal((await backend.authenticate(login('mallory', 's3cret'))).ok, false);
  const cram = await backend.authenticate({ username: 'alice', method: 'CRAM-MD5', challenge: '<1@x>', challengeResponse: '00', remoteAddress: '::1' });
  assert.equal(cram.ok, false);
});

test('file:// re-reads the file when it changes; a broken change keeps the old users', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'users.txt');
  await writeFile(file, `alice:${await openssl('-6', 'one')}\n`);
  const backend = createAuthBackend(pathToFileURL(file).href, { timeout: 5 });
  assert.equal((await backend.authenticate(login('alice', 'one'))).ok, true);

  // Replaced the way editors and config management do it: write aside, rename over.
  await writeFile(join(dir, 'next'), `alice:${await openssl('-6', 'two')}\nbob:${await openssl('-5', 'three')}\n`);
  await rename(join(dir, 'next'), file);
  assert.equal((await backend.authenticate(login('alice', 'one'))).ok, false);
  assert.equal((await backend.authenticate(login('alice', 'two'))).ok, true);
  assert.equal((await backend.authenticate(login('bob', 'three'))).ok, true);

  await writeFile(file, 'alice:plaintext\n');
  assert.equal((await backend.authenticate(login('alice', 'two'))).ok, true, 'bad file: previous users stay');
  await rm(file);
  assert.equal((await backend.authenticate(login('alice', 'two'))).ok, true, 'missing file: previous users stay');
  await writeFile(file, `alice:${await openssl('-6', 'four')}\n`);
  assert.equal((await backend.authenticate(login('alice', 'four'))).ok, true);
});

test('file:// refuses other hash kinds at load, naming file and line', async (t) => {
  const dir = await tempDir(t);
  const cases: [string, RegExp][] = [
    [`alice:${await openssl('-1', 'x')}`, /line 2: user "alice": unsupported crypt hash kind "\$1\$"/],
    ['alice:$y$j9T$F5Jx5fExrKuJdvTH$abc', /line 2: user "alice": unsupported crypt hash kind "\$y\$"/],
    ['alice:s3cret', /line 2: user "alice": a clear-text password or unknown hash/],
    [`alice:${await hashPassword('x', 'sha256')}`, /line 2: user "alice": a salted sha256 hash/],
    ['alice:$6$abc$short', /line 2: user "alice": malformed sha512-crypt/],
    ['just-a-name', /line 2: expected user:hash/],
    [`alice:${await openssl('-6', 'x')}\nalice:${await openssl('-6', 'y')}`, /line 3: user "alice" appears twice/],
  ];
  for (const [line, message] of cases) {
    const file = join(dir, 'users.txt');
    await writeFile(file, `# header\n${line}\n`);
    assert.throws(
      () => createAuthBackend(pathToFileURL(file).href, { timeout: 5 }),
      (error: unknown) => error instanceof AuthConfigError && error.message.includes(file) && message.test(error.message),
      line,
    );
  }
  assert.throws(() => createAuthBackend(pathToFileURL(join(dir, 'missing.txt')).href, { timeout: 5 }), /cannot read password file .*missing\.txt/);
});
