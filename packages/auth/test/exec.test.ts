import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthConfigError, createAuthBackend } from '../src/index.js';
import { delay, login, tempDir } from './helpers.js';

/** Running, not merely a zombie waiting for a container init that may never reap it. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('exec:// passes SMTP_USER / SMTP_PASSWORD / SMTP_CLIENT_IP and stdin; exit code decides', async (t) => {
  const dir = await tempDir(t);
  const script = join(dir, 'check.sh');
  const log = join(dir, 'seen');
  await writeFile(
    script,
    `#!/bin/sh
IFS= read -r in_user
IFS= read -r in_pass
printf '%s|%s|%s|%s|%s|%s|%s\\n' "$#" "$SMTP_USER" "$SMTP_PASSWORD" "$SMTP_CLIENT_IP" "$in_user" "$in_pass" "\${MTAQ_TEST_SECRET:-unset}" >> '${log}'
case "$SMTP_USER" in
  sleeper) sleep 30 & echo $! > '${dir}/sleep.pid'; wait; exit 0 ;;
  crasher) kill -9 $$ ;;
esac
[ "$SMTP_USER" = alice ] && [ "$SMTP_PASSWORD" = 's3 cr$t' ] && [ "$in_pass" = "$SMTP_PASSWORD" ] && exit 0
exit 3
`,
  );
  await chmod(script, 0o755);
  process.env['MTAQ_TEST_SECRET'] = 'must-not-leak';
  t.after(() => delete process.env['MTAQ_TEST_SECRET']);

  const backend = createAuthBackend(`exec://${script}`, { timeout: 1 });
  assert.equal(backend.name, 'exec');
  assert.deepEqual(await backend.authenticate(login('alice', 's3 cr$t', { remoteAddress: '198.51.100.7' })), { ok: true, user: 'alice' });
  assert.deepEqual(await backend.authenticate(login('alice', 'wrong')), { ok: false, reason: 'invalid', detail: 'exit code 3' });
  const lines = (await readFile(log, 'utf8')).trim().split('\n');
  assert.deepEqual(lines, ['0|alice|s3 cr$t|198.51.100.7|alice|s3 cr$t|unset', '0|alice|wrong|127.0.0.1|alice|wrong|unset']);

  const crashed = await backend.authenticate(login('crasher', 'x'));
  assert.equal(!crashed.ok && crashed.reason, 'unavailable');

  const started = Date.now();
  const slow = await createAuthBackend(`exec://${script}`, { timeout: 0.5 }).authenticate(login('sleeper', 'x'));
  assert.equal(!slow.ok && slow.reason, 'unavailable');
  assert.ok(Date.now() - started < 2000);
  // The whole process group is killed, including the script's own child.
  const sleepPid = Number(await readFile(join(dir, 'sleep.pid'), 'utf8'));
  for (let i = 0; i < 50 && (await alive(sleepPid)); i++) await delay(20);
  assert.equal(await alive(sleepPid), false, 'the sleep started by the script is gone');
});

test('exec:// needs an absolute path to an executable, checked at creation', async (t) => {
  const dir = await tempDir(t);
  const plain = join(dir, 'not-executable');
  await writeFile(plain, 'exit 0\n');
  assert.throws(() => createAuthBackend(`exec://${plain}`, { timeout: 1 }), (e: unknown) => e instanceof AuthConfigError && /not an executable/.test(e.message));
  assert.throws(() => createAuthBackend(`exec://${join(dir, 'missing')}`, { timeout: 1 }), /ENOENT/);
});
