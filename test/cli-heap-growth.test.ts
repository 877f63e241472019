import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from '../apps/cli/src/heap-growth.js';

// What the cap does to the RSS is measured by `bench/compare.sh` (the memory rows), not here: the
// heap a process reserves moves with the machine's load (one churning process: 107 to 335 MB for
// the same flags), so a test of it would fail at random.

test('services set their heap growth unless node was started with one, in either spelling or form', () => {
  assert.equal(HEAP_GROWING_PERCENT, 100);
  assert.equal(limitHeapGrowth(['--max-old-space-size=512', '--enable-source-maps']), true);
  assert.equal(limitHeapGrowth(['--heap-growing-percent=300']), false);
  assert.equal(limitHeapGrowth(['--heap_growing_percent=300']), false);
  assert.equal(limitHeapGrowth(['--heap-growing-percent', '300']), false);
  assert.equal(limitHeapGrowth(['--heap-growing-percentage=3']), true, 'another flag is not the operator\'s choice');
});
