import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Linger } from '../src/index.js';

/** Resolution order and time (ms since start) of each wait() of a list of callers. */
function watch(linger: Linger, count: number, started: number): Array<Promise<number>> {
  return Array.from({ length: count }, () => linger.wait().then(() => performance.now() - started));
}

describe('Linger: conclusions gathered into groups for the broker', () => {
  test('callers within the window are released together, no sooner than the window after the first', async () => {
    const linger = new Linger(80, 32);
    const started = performance.now();
    const first = watch(linger, 2, started);
    await new Promise((r) => setTimeout(r, 30));
    let lateReleased = false;
    const late = linger.wait().then(() => (lateReleased = true));
    const times = await Promise.all(first);
    for (const t of times) assert.ok(t >= 79, `released after ${t.toFixed(1)} ms, before the 80 ms window`);
    // one group: the caller that came 30 ms later is released in the same turn as the first two,
    // not after a window of its own
    await new Promise((r) => setImmediate(r));
    assert.equal(lateReleased, true, 'the later caller went with the first group');
    await late;
  });

  test('the max-th caller releases its group at once; the next caller starts a new window', async () => {
    const linger = new Linger(10_000, 3);
    const started = performance.now();
    const group = await Promise.all(watch(linger, 3, started));
    for (const t of group) assert.ok(t < 1000, `a full group waited ${t.toFixed(1)} ms`);
    let released = false;
    const next = linger.wait().then(() => (released = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(released, false, 'a caller after a full group waits for a window of its own');
    await Promise.all([...watch(linger, 2, started), next]); // fills the second group
    assert.equal(released, true);
  });
});
