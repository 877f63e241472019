import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sessionId } from '../../src/smtp/session-id.js';

test('session ids have smtp-server\'s form: 16 base-32 digits', () => {
  for (let i = 0; i < 1000; i++) assert.match(sessionId(), /^[0-9a-v]{16}$/);
});

test('100,000 ids (about 250 refills of the pool) are all different, every digit used in every place', () => {
  const ids = Array.from({ length: 100_000 }, () => sessionId());
  assert.equal(new Set(ids).size, ids.length);
  // 80 random bits fill all 16 digits: each of the 32 digits appears about 3,125 times in each place
  for (let place = 0; place < 16; place++) {
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id[place]!, (counts.get(id[place]!) ?? 0) + 1);
    assert.equal(counts.size, 32, `place ${place}: ${counts.size} digits`);
    for (const [digit, n] of counts) assert.ok(n > 2500 && n < 3750, `place ${place}, digit ${digit}: ${n}`);
  }
});
