import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthConfigError, createAuthBackend, cramMd5Response, maskAuthUrl } from '../src/index.js';
import { login } from './helpers.js';

test('C23: hardcoded://alice:pw1,bob:pw2 — bob/pw2 succeeds, bob/pw1 fails', async () => {
  const backend = createAuthBackend('hardcoded://alice:pw1,bob:pw2', { timeout: 5 });
  assert.equal(backend.name, 'hardcoded');
  assert.equal(backend.plainSecrets, true);
  assert.deepEqual(await backend.authenticate(login('bob', 'pw2')), { ok: true, user: 'bob' });
  assert.deepEqual(await backend.authenticate(login('bob', 'pw1')), { ok: false, reason: 'invalid' });
  assert.deepEqual(await backend.authenticate(login('alice', 'pw1')), { ok: true, user: 'alice' });
  assert.equal((await backend.authenticate(login('carol', 'pw1'))).ok, false);
  assert.equal((await backend.authenticate(login('Bob', 'pw2'))).ok, false, 'user names are case-sensitive');
  assert.equal((await backend.authenticate(login('bob', ''))).ok, false);
  assert.equal((await backend.authenticate(login('', 'pw2'))).ok, false);
});

test('hardcoded passwords may contain ":"; items are trimmed', async () => {
  const backend = createAuthBackend('hardcoded://alice:a:b:c, bob:x', { timeout: 5 });
  assert.equal((await backend.authenticate(login('alice', 'a:b:c'))).ok, true);
  assert.equal((await backend.authenticate(login('bob', 'x'))).ok, true);
});

test('hardcoded backends answer CRAM-MD5', async () => {
  const backend = createAuthBackend('hardcoded://alice:pw1', { timeout: 5 });
  const challenge = '<123.456@mtaq.test>';
  const good = { method: 'CRAM-MD5' as const, challenge, challengeResponse: cramMd5Response('pw1', challenge) };
  assert.deepEqual(await backend.authenticate({ username: 'alice', remoteAddress: '::1', ...good }), { ok: true, user: 'alice' });
  const bad = { ...good, challengeResponse: cramMd5Response('pw2', challenge) };
  assert.equal((await backend.authenticate({ username: 'alice', remoteAddress: '::1', ...bad })).ok, false);
  assert.equal((await backend.authenticate({ username: 'alice', remoteAddress: '::1', method: 'CRAM-MD5' })).ok, false);
});

test('bad hardcoded URLs fail at creation without showing a password', () => {
  for (const url of ['hardcoded://alice,pw1,bob,pw2', 'hardcoded://', 'hardcoded://:pw1', 'hardcoded://alice:pw1,alice:pw2']) {
    assert.throws(
      () => createAuthBackend(url, { timeout: 5 }),
      (error: unknown) => error instanceof AuthConfigError && !/pw1|pw2/.test(error.message),
      url,
    );
  }
});

test('unknown schemes fail at creation naming the URL with its password masked', () => {
  assert.throws(
    () => createAuthBackend('smtp://user:topsecret@host/', { timeout: 5 }),
    (error: unknown) => error instanceof AuthConfigError && error.message.includes('smtp://user:****@host/') && !error.message.includes('topsecret'),
  );
  assert.throws(() => createAuthBackend('users://alice', { timeout: 5 }), /users:\/\/ .*not supported/);
  assert.throws(() => createAuthBackend('no scheme', { timeout: 5 }), AuthConfigError);
});

test('maskAuthUrl hides hardcoded passwords and URL passwords', () => {
  assert.equal(maskAuthUrl('hardcoded://alice:pw1,bob:pw2'), 'hardcoded://alice:****,bob:****');
  assert.equal(maskAuthUrl('hardcoded://alice,pw1'), 'hardcoded://****,****');
  assert.equal(maskAuthUrl('radius://nas1:s3cr3t@10.0.0.1:1812'), 'radius://nas1:****@10.0.0.1:1812');
  assert.equal(maskAuthUrl('https://u:p@x.test/check'), 'https://u:****@x.test/check');
  assert.equal(maskAuthUrl('ldap://host:389/dc=x'), 'ldap://host:389/dc=x');
});
