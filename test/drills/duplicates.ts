/**
 * `npm run drills`: the duplicate/loss drill table for `mtaq delivery` (build first: it runs
 * apps/cli/dist). Progress goes to stderr, the markdown table to stdout.
 *
 *   node --import tsx test/drills/duplicates.ts [--messages 3000] [--rows kill9,dsn-kill9/id]
 *                                               [--row-timeout 300] [--broker-down 0] [--dump DIR]
 *
 * `--rows` takes drill keys (both message-id variants) or `key/id`, `key/noid`.
 * `--dump DIR` (or DRILL_DUMP_DIR) keeps each row's delivery logs and per-message sink records.
 * Exit status 1 when any row lost messages, timed out or could not run; duplicates alone do not fail the run.
 */

import { DRILLS, drillRows, markdownTable, rowId, runDrills } from './harness.js';

function option(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const messages = Number(option('messages') ?? process.env['DRILL_MESSAGES'] ?? 3000);
const rowTimeoutMs = Number(option('row-timeout') ?? 300) * 1000;
const brokerDownMs = Number(option('broker-down') ?? 0) * 1000;
const wanted = option('rows')?.split(',').map((s) => s.trim()).filter(Boolean);
const rows = drillRows().filter((row) => !wanted || wanted.includes(row.key) || wanted.includes(rowId(row)));
if (!Number.isInteger(messages) || messages < 1 || rows.length === 0) {
  process.stderr.write(`usage: duplicates.ts [--messages N] [--rows ${DRILLS.map((d) => d.key).join(',')}] [--row-timeout S] [--broker-down S]\n`);
  process.exit(64);
}

const started = Date.now();
const log = (line: string): void => {
  process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(7)}s ${line}\n`);
};
log(`${rows.length} rows, ${messages} messages each`);
const dumpDir = option('dump') ?? process.env['DRILL_DUMP_DIR'];
const results = await runDrills(rows, { messages, rowTimeoutMs, brokerDownMs, log, ...(dumpDir ? { dumpDir } : {}) });
const minutes = ((Date.now() - started) / 60000).toFixed(1);
process.stdout.write(`\n${markdownTable(results)}\n\n${messages} messages per row; ${rows.length} rows in ${minutes} min.\n`);
process.exit(results.some((r) => r.lost > 0 || r.timedOut || r.notes.some((n) => n.startsWith('ERROR'))) ? 1 : 0);
