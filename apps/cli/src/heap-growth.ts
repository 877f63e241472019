import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 may let the heap grow past what survived the last full collection, in percent. By
 * default V8 picks a factor of up to 4 when collections are cheap relative to the work between
 * them, and a mail process turns over its messages so fast that the heap reserved for their garbage
 * sets the RSS: delivery with 100,000 messages waiting peaked at 214–243 MB with 28–64 MB of live
 * objects. At 100 (a factor of 2) it peaked at 166 MB, the ingress at 150 sessions at 126–131
 * instead of 152–154, for no CPU cost the benchmark could tell from its noise; at 20 the RSS fell
 * further but delivery spent a fifth more CPU per message on collections.
 */
export const HEAP_GROWING_PERCENT = 100;

/**
 * The ingress's: large messages make it collect the old generation often (1 MB messages: 36 full
 * collections per 200 at 100, 6 at 300), and each full collection is a pass over its whole heap.
 * At 150, 1 MB messages cost 15.3 instead of 18.0 ms of CPU each (three alternating pairs) and 150
 * sessions of 1 KB peaked at 131–138 MB in six rounds (the target is 150); 200 was faster still but peaked at
 * 148 MB. Delivery gained nothing from 200 on the size mix, so it keeps the default above.
 */
export const INGRESS_HEAP_GROWING_PERCENT = 150;

/**
 * Sets the heap growth of a long-running mtaq process unless whoever started node chose one
 * (`node --heap-growing-percent=N`). V8 reads this when it sizes the heap after each full
 * collection, so setting it at start-up, before the load, is enough. True when it was set here.
 */
export function limitHeapGrowth(percent = HEAP_GROWING_PERCENT, execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}
