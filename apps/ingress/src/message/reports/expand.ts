import { createGunzip } from 'node:zlib';
import { Unzip, UnzipInflate, unzipSync } from 'fflate';

/**
 * Attachments expanded (gunzipped, unzipped) under one budget per message: all of them together
 * expand to at most `remaining` bytes, however many there are. Expanding never blocks the event loop
 * for long: gzip is inflated by zlib on the thread pool a chunk at a time, zip a few KB of input at a
 * time with a turn of the event loop in between. The signal stops an expansion midway (the timeout).
 */
export interface ExpandBudget {
  /**
   * Bytes the attachments still to come may expand to. Every byte inflated is taken off, also for an
   * attachment that turns out to be no report or too large, so that a message's attachments never
   * make more than the budget's work however many there are.
   */
  remaining: number;
  readonly signal: AbortSignal;
}

/** Whether the start of the expanded content (decoded as UTF-8) is worth expanding the rest of. */
export type HeadCheck = (head: string) => boolean;

/** Bytes of expanded content the head check sees (at most: less when the content is shorter). */
export const HEAD_BYTES = 16 * 1024;
/** Output chunk of the gzip inflater: one turn of the event loop each. */
const GZIP_CHUNK = 64 * 1024;
/** Compressed bytes pushed into the zip inflater at a time: one push expands to at most ~1032 times this. */
const ZIP_STEP = 4096;
/** Expanded zip bytes between two turns of the event loop. */
const ZIP_YIELD = 256 * 1024;
const XML_FILE = /\.xml$/i;

/**
 * The content, gunzipped or unzipped (its first .xml file) by its magic bytes, or as it is; undefined
 * when it is corrupt, when its head does not pass `accept`, when it would take more than the budget's
 * remaining bytes, or when the budget's signal is aborted. Never rejects.
 */
export async function expand(content: Buffer, budget: ExpandBudget, accept: HeadCheck): Promise<Buffer | undefined> {
  if (budget.signal.aborted) return undefined;
  try {
    if (content[0] === 0x1f && content[1] === 0x8b) return await gunzip(content, budget, accept);
    if (content[0] === 0x50 && content[1] === 0x4b && content[2] === 0x03 && content[3] === 0x04) return await unzipXml(content, budget, accept);
    if (content.length > budget.remaining || !accept(head(content))) return undefined;
    budget.remaining -= content.length;
    return content;
  } catch {
    return undefined;
  }
}

/** Takes what was inflated off the budget (all of it when it went past). */
function charge(budget: ExpandBudget, inflated: number): void {
  budget.remaining = Math.max(0, budget.remaining - inflated);
}

function head(content: Uint8Array): string {
  return Buffer.from(content.buffer, content.byteOffset, Math.min(content.length, HEAD_BYTES)).toString('utf8');
}

function gunzip(content: Buffer, budget: ExpandBudget, accept: HeadCheck): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const inflater = createGunzip({ chunkSize: GZIP_CHUNK });
    const chunks: Buffer[] = [];
    let total = 0;
    let checked = false;
    let settled = false;
    const finish = (result: Buffer | undefined) => {
      if (settled) return;
      settled = true;
      charge(budget, total);
      budget.signal.removeEventListener('abort', onAbort);
      inflater.destroy();
      resolve(result);
    };
    const onAbort = () => finish(undefined);
    budget.signal.addEventListener('abort', onAbort);
    inflater.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > budget.remaining) return finish(undefined);
      chunks.push(chunk);
      if (!checked && total >= HEAD_BYTES) {
        checked = true;
        if (!accept(head(Buffer.concat(chunks)))) finish(undefined);
      }
    });
    inflater.on('end', () => {
      const all = Buffer.concat(chunks);
      finish(checked || accept(head(all)) ? all : undefined);
    });
    inflater.on('error', () => finish(undefined));
    inflater.end(content);
  });
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The first .xml file of a zip archive. The central directory is read first (nothing expanded): no
 * .xml file, or one that says it is larger than the budget, is no report. The file is then streamed
 * through the inflater a few KB of input at a time, so that no more than about the budget (plus one
 * step's worth) is ever expanded even when the directory lies.
 */
async function unzipXml(zip: Buffer, budget: ExpandBudget, accept: HeadCheck): Promise<Buffer | undefined> {
  let declared: number | undefined;
  unzipSync(zip, {
    filter: (file) => {
      if (declared === undefined && XML_FILE.test(file.name)) declared = file.originalSize;
      return false;
    },
  });
  if (declared === undefined || declared > budget.remaining) return undefined;
  const chunks: Uint8Array[] = [];
  let total = 0;
  let checked = false;
  // changed by the callbacks, which TypeScript's narrowing does not see
  let state = 'waiting' as 'waiting' | 'reading' | 'done' | 'failed';
  const unzip = new Unzip((file) => {
    if (state !== 'waiting' || !XML_FILE.test(file.name)) return;
    state = 'reading';
    file.ondata = (err, chunk, final) => {
      if (state !== 'reading') return;
      if (err) {
        state = 'failed';
        return;
      }
      total += chunk.length;
      if (total > budget.remaining) {
        state = 'failed';
        file.terminate();
        return;
      }
      chunks.push(chunk);
      if ((!checked && total >= HEAD_BYTES) || final) {
        checked = true;
        if (!accept(head(Buffer.concat(chunks)))) {
          state = 'failed';
          if (!final) file.terminate();
          return;
        }
      }
      if (final) state = 'done';
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  try {
    let sinceTurn = 0;
    for (let at = 0; at < zip.length && (state === 'waiting' || state === 'reading'); at += ZIP_STEP) {
      const before = total;
      unzip.push(zip.subarray(at, at + ZIP_STEP), at + ZIP_STEP >= zip.length);
      sinceTurn += total - before;
      if (sinceTurn >= ZIP_YIELD) {
        sinceTurn = 0;
        await turn();
        if (budget.signal.aborted) return undefined;
      }
    }
    return state === 'done' ? Buffer.concat(chunks) : undefined;
  } finally {
    charge(budget, total);
  }
}
