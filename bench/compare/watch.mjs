// Waits for one benchmark round to finish and prints "<seconds> <count> <CPU s> <others' CPU s> <peak RSS kB>":
//   node bench/compare/watch.mjs --sink FILE --n N [--queue Q] [--pid PID] [--others PID,PID]
// The clock starts at the first message the sink counts (so process start-up is left out on both
// sides) and stops when the sink has counted N messages, or, with --queue, when Q holds N messages
// (mtaq's results queue: every outcome published and confirmed, a stricter end than the sink's).
// CPU s: user + system time the measured process (--pid) spent between the first and the last
// look, which other load on the machine does not inflate the way it inflates wall time.
// Others' CPU s: the same for --others (RabbitMQ's beam.smp, redis-server), comma-separated in their
// order: what the side's work cost the services it shares the two cores with.
// Polls over one AMQP connection every 20 ms instead of starting a process per look.
import { closeSync, openSync, readSync, fstatSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';

const { values } = parseArgs({
  options: { sink: { type: 'string' }, n: { type: 'string' }, queue: { type: 'string' }, pid: { type: 'string' }, others: { type: 'string', default: '' }, timeout: { type: 'string', default: '300' } },
});
const n = Number(values.n);

/** The last `mesg=K` that Postfix's `smtp-sink -c` wrote (it rewrites one line with \r). */
function sinkCount() {
  let fd;
  try {
    fd = openSync(values.sink, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, 200);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const matches = [...buffer.toString('latin1').matchAll(/mesg=(\d+)/g)];
    return matches.length ? Number(matches[matches.length - 1][1]) : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Peak resident set of the measured process (VmHWM), kB. */
function peakRss() {
  if (!values.pid) return 0;
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${values.pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15); the measured one by default. */
function cpuSeconds(pid = values.pid) {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

const connection = values.queue ? await connect(process.env.MTAQ_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1/') : undefined;
const channel = connection ? await connection.createChannel() : undefined;
const deadline = Date.now() + Number(values.timeout) * 1000;
let first;
let cpuAtFirst = 0;
const others = values.others.split(',').filter(Boolean);
let othersAtFirst = [];
let rss = 0;
let count = 0;
for (;;) {
  const now = performance.now();
  const sunk = sinkCount();
  if (first === undefined && sunk > 0) {
    first = now;
    cpuAtFirst = cpuSeconds();
    othersAtFirst = others.map((pid) => cpuSeconds(pid));
  }
  count = channel ? (await channel.checkQueue(values.queue)).messageCount : sunk;
  rss = Math.max(rss, peakRss());
  if (count >= n && first !== undefined) {
    const othersCpu = others.map((pid, i) => (cpuSeconds(pid) - othersAtFirst[i]).toFixed(2)).join(',') || '-';
    console.log(`${((performance.now() - first) / 1000).toFixed(3)} ${count} ${(cpuSeconds() - cpuAtFirst).toFixed(2)} ${othersCpu} ${rss}`);
    break;
  }
  if (Date.now() > deadline) {
    console.log(`timeout ${count} 0 - ${rss}`);
    process.exitCode = 1;
    break;
  }
  await new Promise((r) => setTimeout(r, 20));
}
await connection?.close();
