import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runLoad, SMALL_LOADS, table, type LoadResult } from './drills/ingress-memory.js';

/**
 * Issue 8 item 2, small version of test/drills/ingress-memory.ts: a real `mtaq ingress` with the
 * default smtp-max-inflight, real SMTP clients (nodemailer) that declare SIZE and retry 4xx, the
 * ingress's VmRSS sampled every 100 ms. Every recipient ends up queued, nobody hears 451, and the
 * process stays under 400 MB.
 */
describe('ingress memory under load', () => {
  const results: LoadResult[] = [];
  for (const load of SMALL_LOADS) {
    test(load.name, async () => {
      const result = await runLoad(load, { timeoutMs: 90_000 });
      results.push(result);
      assert.equal(result.accepted, result.expected, 'every recipient accepted in the end');
      assert.equal(result.queued, result.expected, 'one document per recipient queued');
      assert.equal(result.replies451, 0, 'no 451');
      assert.ok(result.peakRssMb < 400, `peak RSS ${result.peakRssMb} MB`);
    });
  }
  test('table', () => {
    process.stdout.write(`${table(results)}\n`);
  });
});
