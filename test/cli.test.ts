import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { CLI, ROOT } from './helpers/process.js';

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
