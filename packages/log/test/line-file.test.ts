import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { LineFile, openLineFile } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'mtaq-linefile-'));
const read = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('lines are appended, one write per batch, promptly; a line break inside a line becomes a space', async () => {
  const path = join(dir, 'a.log');
  const file = new LineFile(path, { flushMs: 20 });
  file.write('one');
  file.write('two\r\nlines');
  await until(() => read(path).length === 2, 1000);
  assert.deepEqual(read(path), ['one', 'two lines']);
  file.write('three');
  await file.close();
  file.write('after close');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(read(path), ['one', 'two lines', 'three']);
});

test('a file rotated away (renamed or deleted) is noticed at the next batch; reopen() opens the path again', async () => {
  const path = join(dir, 'b.log');
  const file = new LineFile(path, { flushMs: 5 });
  file.write('1');
  await file.flush();
  renameSync(path, `${path}.1`);
  file.write('2');
  await file.flush();
  assert.deepEqual(read(`${path}.1`), ['1']);
  assert.deepEqual(read(path), ['2']);
  unlinkSync(path);
  file.write('3');
  await file.flush();
  assert.deepEqual(read(path), ['3']);
  // SIGHUP's reopen: creates the file at once, even with nothing to write
  renameSync(path, `${path}.2`);
  file.reopen();
  await until(() => existsSync(path));
  file.write('4');
  await file.close();
  assert.deepEqual(read(`${path}.2`), ['3']);
  assert.deepEqual(read(path), ['4']);
});

test('a write error is logged once, never thrown; the lines are kept and written once the file can be', async () => {
  const sub = join(dir, 'later');
  const path = join(sub, 'c.log');
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger = { warn: (_o: object, msg: string) => warnings.push(msg), info: (_o: object, msg: string) => infos.push(msg) };
  const file = new LineFile(path, { flushMs: 5, retryMs: 30, logger: logger as never });
  file.write('kept 1');
  file.write('kept 2');
  await until(() => warnings.length === 1);
  assert.equal(warnings[0], 'cannot write the log file; retrying');
  await new Promise((r) => setTimeout(r, 100)); // several retries, one warning
  assert.equal(warnings.length, 1);
  mkdirSync(sub);
  file.write('kept 3');
  // the bytes are in the file (thread-pool write) a moment before the write's promise settles and
  // the recovery is logged: wait for both
  await until(() => read(path).length === 3 && infos.length > 0);
  assert.deepEqual(read(path), ['kept 1', 'kept 2', 'kept 3']);
  assert.deepEqual(infos, ['log file writable again']);
  await file.close();
});

test('while unwritable, the oldest lines beyond maxBufferedBytes are dropped and counted', async () => {
  if (process.getuid?.() === 0) return; // root writes through chmod
  const sub = join(dir, 'readonly');
  mkdirSync(sub);
  chmodSync(sub, 0o500);
  const path = join(sub, 'd.log');
  const warned: object[] = [];
  const logger = { warn: (o: object) => warned.push(o), info: () => undefined };
  const file = new LineFile(path, { flushMs: 5, retryMs: 20, maxBufferedBytes: 30, logger: logger as never });
  for (let i = 0; i < 10; i++) file.write(`line ${i}`);
  await until(() => warned.length === 1);
  chmodSync(sub, 0o700);
  await until(() => read(path).length > 0);
  assert.deepEqual(read(path), ['line 6', 'line 7', 'line 8', 'line 9']);
  await until(() => warned.some((o) => (o as { dropped?: number }).dropped === 6));
  await file.close();
});

test('openLineFile shares one LineFile per resolved path', async () => {
  const a = openLineFile(join(dir, 'shared.log'));
  assert.equal(openLineFile(resolve(dir, '.', 'shared.log')), a);
  await a.close();
  assert.notEqual(openLineFile(join(dir, 'shared.log')), a);
});

test('buffered lines are written when the process exits, and SIGHUP reopens every file', () => {
  const path = join(dir, 'e.log');
  const script = `
    import { existsSync, renameSync } from 'node:fs';
    import { LineFile } from ${JSON.stringify(resolve(import.meta.dirname, '../src/index.ts'))};
    const f = new LineFile(${JSON.stringify(path)}, { flushMs: 60000 });
    f.write('before');
    await f.flush();
    renameSync(${JSON.stringify(path)}, ${JSON.stringify(`${path}.old`)});
    process.kill(process.pid, 'SIGHUP');
    await new Promise((r) => setTimeout(r, 200));
    // reopened by the signal (without it the process would have died of SIGHUP)
    process.stdout.write(String(existsSync(${JSON.stringify(path)})));
    f.write('at exit');
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'true');
  assert.deepEqual(read(`${path}.old`), ['before']);
  assert.deepEqual(read(path), ['at exit']);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
