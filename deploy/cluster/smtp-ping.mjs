// Exits 0 when an SMTP server on HOST:PORT takes a transaction up to RCPT (EHLO, MAIL, RCPT, RSET,
// QUIT all answered 2xx/3xx) — the ingress behind it is listening and its broker publisher is up,
// since ingress answers MAIL FROM with 451 while it has no broker. Sends no mail.
// Usage: node smtp-ping.mjs HOST PORT [TIMEOUT_MS]
import net from 'node:net';

const [host = '127.0.0.1', port = '2600', timeout = '5000'] = process.argv.slice(2);
const steps = ['EHLO ping.cluster.test', 'MAIL FROM:<ping@cluster.test>', 'RCPT TO:<ping@cluster.test>', 'RSET', 'QUIT'];
const socket = net.connect({ host, port: Number(port) });
const fail = (why) => {
  process.stderr.write(`smtp-ping ${host}:${port}: ${why}\n`);
  process.exit(1);
};
socket.setTimeout(Number(timeout), () => fail('timeout'));
socket.on('error', (err) => fail(err.message));
let buffer = '';
let step = -1; // -1: waiting for the greeting
socket.on('data', (chunk) => {
  buffer += chunk.toString('latin1');
  // a complete reply: its last line has a space after the code
  for (let m; (m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3})(?: [^\r\n]*)?\r\n/.exec(buffer)); ) {
    buffer = buffer.slice(m[0].length);
    if (Number(m[1]) >= 400) fail(`${step < 0 ? 'greeting' : steps[step]}: ${m[0].trim()}`);
    step++;
    if (step === steps.length) {
      socket.end();
      process.exit(0);
    }
    socket.write(`${steps[step]}\r\n`);
  }
});
