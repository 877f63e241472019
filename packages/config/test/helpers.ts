import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, type LoadResult } from '../src/index.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A fresh working directory holding `files` (paths relative to it). */
export function workdir(files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'mtaq-config-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** loadConfig isolated from the real machine: no /etc file, no process env, no process argv. */
export function load(
  options: { files?: Record<string, string>; argv?: string[]; env?: Record<string, string>; system?: string } = {},
): LoadResult & { cwd: string } {
  const cwd = workdir(options.files);
  const result = loadConfig({
    cwd,
    argv: options.argv ?? [],
    env: options.env ?? {},
    systemFile: options.system === undefined ? null : join(cwd, options.system),
  });
  return { ...result, cwd };
}

/** Loads the file text as ./etc/mtaq.conf. */
export function loadText(text: string, argv: string[] = []): LoadResult {
  return load({ files: { 'etc/mtaq.conf': text }, argv });
}

/** The ConfigError a load throws (fails the test when it does not throw one). */
export function loadError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError, but the load succeeded');
}
