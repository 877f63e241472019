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
 * Sets the heap growth of a long-running mtaq process unless whoever started node chose one
 * (`node --heap-growing-percent=N`). V8 reads this when it sizes the heap after each full
 * collection, so setting it at start-up, before the load, is enough. True when it was set here.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
