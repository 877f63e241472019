import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMessageIdGenerator } from '../src/index.js';

test('100k ids are unique, at least 8 chars of [a-z0-9]', () => {
  const next = createMessageIdGenerator(1);
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = next();
    assert.match(id, /^[a-z0-9]{8,}$/);
    seen.add(id);
  }
  assert.equal(seen.size, 100_000);
});

test('ids differ across server ids and between generators of one process', () => {
  const a = createMessageIdGenerator(1);
  const b = createMessageIdGenerator(1);
  const c = createMessageIdGenerator(36);
  const d = createMessageIdGenerator(1295);
  const ids = [a(), b(), c(), d(), a(), b(), c(), d()];
  assert.equal(new Set(ids).size, ids.length);
  // The server id is embedded with a length prefix right at the start.
  assert.ok(c().startsWith('210'));
  assert.ok(d().startsWith('2zz'));
});

test('rejects a bad server id', () => {
  assert.throws(() => createMessageIdGenerator(-1), RangeError);
  assert.throws(() => createMessageIdGenerator(1.5), RangeError);
});
