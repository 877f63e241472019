import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { configKeys, schema, type ConfigKey } from '../src/index.js';

// Keeps each key's `status` in schema.ts honest: "implemented" must mean some runtime code reads
// the key, and a key someone starts reading must lose its "unsupported" mark (and its start-up
// warning). "Runtime code" is every source file under apps/*/src and packages/*/src except this
// package, which parses every key whether or not anything uses it.

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(c|m)?(t|j)s$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const runtimeSources: ReadonlyArray<{ file: string; text: string }> = ['apps', 'packages'].flatMap((top) =>
  readdirSync(join(ROOT, top), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !(top === 'packages' && entry.name === 'config'))
    .flatMap((entry) => {
      try {
        return sourceFiles(join(ROOT, top, entry.name, 'src'));
      } catch {
        return []; // a workspace without src/
      }
    })
    .map((file) => ({ file: relative(ROOT, file), text: withoutComments(readFileSync(file, 'utf8')) })),
);

/**
 * A key named in a comment (`validate-recipient` in a doc comment) is not read. Line comments
 * count only after white space, so the `//` of 'amqp://' inside a string is left alone.
 */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|\s)\/\/[^\n]*/g, '$1');
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * How a name shows up where code reads it. A dashed name is distinctive enough that any quoted
 * occurrence counts (`config['smtp-port']`, `Pick<Config, 'smtp-port'>`). A one-word name
 * (`smarthost`, `user`, `lock`) is an everyday word, so only an index (`['user']`) or a property of
 * something called config (`config.smarthost`) counts.
 */
function readPattern(name: string): RegExp {
  const n = escape(name);
  if (name.includes('-')) return new RegExp(`(['"\`])${n}\\1`);
  return new RegExp(`\\[\\s*(['"\`])${n}\\1\\s*\\]|onfig\\??\\.${n}\\b`);
}

/** Runtime files that read `key` under its own name or any alias. */
function readersOf(key: ConfigKey): string[] {
  const patterns = [key, ...schema[key].aliases].map(readPattern);
  return runtimeSources.filter(({ text }) => patterns.some((p) => p.test(text))).map(({ file }) => file);
}

/** A key folded into another while loading (legacy rabbitmq-host) is read when that one is. */
function effectiveReaders(key: ConfigKey): string[] {
  const target = schema[key].foldedInto;
  return target === undefined ? readersOf(key) : readersOf(target as ConfigKey);
}

test('the runtime sources were found', () => {
  assert.ok(runtimeSources.some(({ file }) => file.startsWith('apps/ingress/src/')), 'no apps/ingress/src files');
  assert.ok(runtimeSources.some(({ file }) => file.startsWith('apps/delivery/src/')), 'no apps/delivery/src files');
  assert.ok(!runtimeSources.some(({ file }) => file.startsWith('packages/config/')), 'packages/config must not count');
});

test('every key marked implemented is read by runtime code', () => {
  const unread = configKeys.filter((key) => schema[key].status === 'implemented' && effectiveReaders(key).length === 0);
  assert.deepEqual(
    unread,
    [],
    `marked implemented in packages/config/src/schema.ts, but no file under apps/*/src or packages/*/src reads them: ${unread.join(', ')}. ` +
      'Mark them `notYet` (unsupported) or make the code use them.',
  );
});

test('every key marked unsupported is read by no runtime code', () => {
  const read = configKeys
    .filter((key) => schema[key].status === 'unsupported')
    .map((key) => ({ key, readers: effectiveReaders(key) }))
    .filter(({ readers }) => readers.length > 0);
  assert.deepEqual(
    read.map(({ key, readers }) => `${key} (read in ${readers.join(', ')})`),
    [],
    'marked unsupported in packages/config/src/schema.ts but read by runtime code: remove `notYet` from them ' +
      '(they would otherwise warn "has no effect") and update README',
  );
});

test('folded keys name a key that exists', () => {
  for (const key of configKeys) {
    const target = schema[key].foldedInto;
    if (target !== undefined) assert.ok((configKeys as readonly string[]).includes(target), `${key}: foldedInto ${target} is no key`);
  }
});

test('the scan tells reads from everyday words', () => {
  assert.ok(readPattern('smarthost').test('relay(config.smarthost, 25)'));
  assert.ok(readPattern('user').test("const u = cfg['user'];"));
  assert.ok(!readPattern('user').test("log.info({ user: 'user' })"));
  assert.ok(readPattern('smtp-port').test("Pick<Config, 'smtp-port'>"));
  assert.ok(!readPattern('smtp-port').test("'smtp-port-extra'"));
  assert.equal(withoutComments("/** `a-b` */ x('amqp://h') // 'c-d'\n  // 'e-f'\ny"), "  x('amqp://h') \n  \ny");
});
