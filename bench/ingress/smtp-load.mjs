// A small SMTP load generator for messages smtp-source cannot send (a DKIM-signed file):
//   node bench/ingress/smtp-load.mjs --port P --sessions N --messages M --file MSG [--reuse]
//     [--from a@x] [--to b@y] [--helo name]
// Each session sends its share of the messages, one connection per message unless --reuse, with
// PIPELINING for MAIL/RCPT/DATA as smtp-source does. Prints the number of 250s; exit 1 on any other
// reply to the message.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    sessions: { type: 'string', default: '10' },
    messages: { type: 'string', default: '1000' },
    file: { type: 'string' },
    reuse: { type: 'boolean', default: false },
    from: { type: 'string', default: 'bench@example.com' },
    to: { type: 'string', default: 'rcpt@example.org' },
    helo: { type: 'string', default: 'bench.example' },
  },
});
const body = readFileSync(values.file, 'latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
const payload = Buffer.from(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
const total = Number(values.messages);
const sessions = Number(values.sessions);
let next = 0;
let accepted = 0;
let refused = 0;

/** One connection: its replies read one complete (multi-line) reply at a time. */
function open() {
  const socket = net.connect({ host: values.host, port: Number(values.port) });
  socket.setNoDelay(true);
  let buffer = '';
  const waiting = [];
  socket.on('data', (d) => {
    buffer += d.toString('latin1');
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(buffer);
      if (!m) break;
      buffer = buffer.slice(m[0].length);
      const w = waiting.shift();
      if (w) w.resolve(Number(m[1]));
    }
  });
  socket.on('error', (err) => waiting.splice(0).forEach((w) => w.reject(err)));
  socket.on('close', () => waiting.splice(0).forEach((w) => w.reject(new Error('closed'))));
  const reply = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  return { socket, reply };
}

async function transaction(c) {
  c.socket.write(`MAIL FROM:<${values.from}> SIZE=${payload.length}\r\nRCPT TO:<${values.to}>\r\nDATA\r\n`);
  const [mail, rcpt, data] = await Promise.all([c.reply(), c.reply(), c.reply()]);
  if (mail !== 250 || rcpt !== 250 || data !== 354) throw new Error(`MAIL ${mail} RCPT ${rcpt} DATA ${data}`);
  c.socket.write(payload);
  const code = await c.reply();
  if (code === 250) accepted++;
  else refused++;
}

async function connectAndGreet() {
  const c = open();
  await c.reply();
  c.socket.write(`EHLO ${values.helo}\r\n`);
  await c.reply();
  return c;
}

async function session() {
  let c = values.reuse ? await connectAndGreet() : undefined;
  while (next < total) {
    next++;
    if (!values.reuse) c = await connectAndGreet();
    await transaction(c);
    if (values.reuse) {
      c.socket.write('RSET\r\n');
      await c.reply();
    } else {
      c.socket.end('QUIT\r\n');
    }
  }
  if (values.reuse) c.socket.end('QUIT\r\n');
}

await Promise.all(Array.from({ length: sessions }, session));
console.log(accepted);
if (refused) {
  console.error(`${refused} messages not accepted`);
  process.exit(1);
}
