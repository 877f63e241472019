// Latency at a fixed rate: SMTP load into PORT and an SMTP sink on SINK_PORT in one process.
//   node bench/compare/latency-load.mjs --port P --sink-port S --rate R --seconds T [--sessions N] [--size BYTES]
// Sends R messages a second (paced, over N reused sessions) for T seconds and prints one JSON line:
// p50/p99 (ms) of end of DATA -> 250, and of 250 -> arrival at the sink (enqueue -> delivered),
// with how many messages were sent, answered 250 and delivered.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { SMTPServer } from 'smtp-server';

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, 'sink-port': { type: 'string' }, rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' }, sessions: { type: 'string', default: '20' }, size: { type: 'string', default: '1000' },
    drain: { type: 'string', default: '20' },
  },
});
const rate = Number(values.rate);
const total = Math.round(rate * Number(values.seconds));
const sessions = Number(values.sessions);
const size = Number(values.size);

const accepted = new Map(); // id -> time of the 250 (performance.now)
const dataToReply = [];
const enqueueToDelivered = [];
let delivered = 0;
const early = new Map(); // arrived before its 250 was read

const sink = new SMTPServer({
  logger: false, disableReverseLookup: true, authOptional: true, disabledCommands: ['AUTH', 'STARTTLS'],
  onData(stream, session, callback) {
    let head = '';
    stream.on('data', (chunk) => { if (head.length < 4096) head += chunk.toString('latin1'); });
    stream.on('end', () => {
      const now = performance.now();
      const id = /X-Bench-Id: (\d+)/.exec(head)?.[1];
      if (id !== undefined) {
        delivered++;
        const at = accepted.get(id);
        if (at !== undefined) enqueueToDelivered.push(now - at);
        else early.set(id, now);
      }
      callback(null, 'Ok');
    });
  },
});
await new Promise((resolve) => sink.listen(Number(values['sink-port']), '127.0.0.1', resolve));

const filler = 'X'.repeat(76);
function message(id) {
  const head = `From: <bench@example.com>\r\nTo: <rcpt@bench.test>\r\nSubject: latency ${id}\r\nMessage-ID: <${id}.latency@example.com>\r\nX-Bench-Id: ${id}\r\n\r\n`;
  let body = '';
  while (head.length + body.length < size) body += `${filler}\r\n`;
  return head + body;
}

/** One SMTP session: a line reader and a command/reply helper. */
async function session() {
  const socket = net.connect(Number(values.port), '127.0.0.1');
  socket.setNoDelay(true);
  let buffer = '';
  let waiting;
  socket.on('data', (chunk) => {
    buffer += chunk.toString('latin1');
    // a reply is complete at a line "ddd " (the last line of a multi-line reply)
    const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
    if (m && waiting) {
      const w = waiting;
      waiting = undefined;
      const text = buffer;
      buffer = '';
      w(text);
    }
  });
  const reply = () => new Promise((resolve) => { waiting = resolve; });
  const command = (line) => { const r = reply(); socket.write(line); return r; };
  await reply();
  await command('EHLO latency.example\r\n');
  return { command, close: () => socket.end('QUIT\r\n') };
}

const start = performance.now();
let next = 0;
let sent = 0;
let ok = 0;
async function worker() {
  const s = await session();
  for (;;) {
    const i = next++;
    if (i >= total) break;
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await s.command('MAIL FROM:<bench@example.com>\r\n');
    await s.command('RCPT TO:<rcpt@bench.test>\r\n');
    await s.command('DATA\r\n');
    const id = String(i);
    sent++;
    const t0 = performance.now();
    const answer = await s.command(`${message(id)}\r\n.\r\n`);
    const t1 = performance.now();
    if (answer.startsWith('250')) {
      ok++;
      dataToReply.push(t1 - t0);
      accepted.set(id, t1);
      const arrived = early.get(id);
      if (arrived !== undefined) { enqueueToDelivered.push(arrived - t1); early.delete(id); }
    }
  }
  s.close();
}
await Promise.all(Array.from({ length: sessions }, worker));
const elapsed = (performance.now() - start) / 1000;
const deadline = Date.now() + Number(values.drain) * 1000;
while (delivered < ok && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
sink.close();

const pct = (list, p) => {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(1));
};
console.log(JSON.stringify({
  rate, offered: Number((sent / elapsed).toFixed(1)), sent, accepted: ok, delivered,
  dataTo250: { p50: pct(dataToReply, 50), p99: pct(dataToReply, 99) },
  enqueueToDelivered: { p50: pct(enqueueToDelivered, 50), p99: pct(enqueueToDelivered, 99) },
}));
process.exit(0);
