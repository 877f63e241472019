/**
 * The slow-drip flood drill: `node --import tsx test/drills/ingress-drip.ts [--connections 2000]
 * [--seconds 70]` (build first). A real `mtaq ingress` with etc/mtaq.conf's caps
 * (smtp-connections-in 1000, -per-ip 200, smtp-min-rate 32 B/s after 30 s) takes `--connections`
 * connections from 127.0.1.1–127.0.1.N (200 per address), each dripping one byte every 5 s, while a
 * legitimate client tries one session every 5 s. Prints a markdown table: how many drip connections
 * were closed and when, the legitimate sessions served, refused and their wait, the ingress's peak
 * descriptors and RSS. Bounded in time; cleans up after itself.
 */

import net from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { TestBroker, uniqueName } from '../helpers/amqp.js';
import { freePort } from '../helpers/ports.js';
import { startMtaq, writeConfig } from '../helpers/process.js';
import { SmtpTalk } from '../helpers/smtp.js';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const connections = option('connections', 2000);
const seconds = option('seconds', 70);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const port = await freePort();
const inbox = uniqueName('drip');
const config = writeConfig(
  [
    'smtp-ip: 127.0.0.1',
    `smtp-port: ${port}`,
    'smtp-range: 127.0.0.0/8',
    `rabbitmq-inbox: ${inbox}`,
    'smtp-connections-in: 1000',
    'smtp-connections-per-ip: 200',
    'smtp-min-rate: 32',
    'smtp-min-rate-grace: 30',
    'smtp-timeout: 300',
  ].join('\n'),
);
const mtaq = await startMtaq('ingress', ['--config-file', config]);
const pid = mtaq.child.pid!;
let peakFds = 0;
let peakRss = 0;
const sampler = setInterval(() => {
  try {
    peakFds = Math.max(peakFds, readdirSync(`/proc/${pid}/fd`).length);
    const rss = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    peakRss = Math.max(peakRss, Number(rss ?? 0));
  } catch {
    // gone
  }
}, 200);

const started = Date.now();
const sockets: net.Socket[] = [];
const closedAt: number[] = [];
for (let i = 0; i < connections; i++) {
  const localAddress = `127.0.1.${1 + Math.floor(i / 200)}`;
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  socket.on('close', () => closedAt.push(Date.now() - started));
  sockets.push(socket);
  if (i % 100 === 99) await sleep(20);
}
const drip = setInterval(() => {
  for (const socket of sockets) if (!socket.destroyed) socket.write('E');
}, 5000);

const legit: Array<{ at: number; outcome: string; waitMs: number }> = [];
while (Date.now() - started < seconds * 1000) {
  const at = Date.now() - started;
  const t0 = Date.now();
  try {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.99' });
    const greeting = await smtp.read(40_000);
    if (greeting.code !== 220) {
      legit.push({ at, outcome: `refused ${greeting.code}`, waitMs: Date.now() - t0 });
      await smtp.quit().catch(() => undefined);
    } else {
      await smtp.command('EHLO legit.example');
      const reply = await smtp.send('a@example.com', ['b@example.org'], 'Subject: legit\r\n\r\nhello\r\n');
      legit.push({ at, outcome: reply.code === 250 ? 'served' : `refused ${reply.code}`, waitMs: Date.now() - t0 });
      await smtp.quit();
    }
  } catch (err) {
    legit.push({ at, outcome: `failed: ${(err as Error).message.slice(0, 40)}`, waitMs: Date.now() - t0 });
  }
  await sleep(Math.max(0, 5000 - (Date.now() - t0)));
}
clearInterval(drip);
clearInterval(sampler);
const stillOpen = sockets.filter((s) => !s.destroyed).length;
for (const socket of sockets) socket.destroy();
await mtaq.stop();
const broker = await TestBroker.open();
const queued = await broker.count(inbox).catch(() => -1);
await broker.deleteQueues(inbox);
await broker.close();

const served = legit.filter((l) => l.outcome === 'served');
const byTime = (limit: number): number => closedAt.filter((t) => t <= limit * 1000).length;
process.stdout.write(
  [
    `| drip connections | closed by 20 s | by 40 s | by ${seconds} s | still open | legit sessions served / tried | longest legit wait | queued | peak fds | peak RSS |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${connections} | ${byTime(20)} | ${byTime(40)} | ${byTime(seconds)} | ${stillOpen} | ${served.length} / ${legit.length} | ${(Math.max(...legit.map((l) => l.waitMs)) / 1000).toFixed(1)} s | ${queued} | ${peakFds} | ${(peakRss / 1024).toFixed(0)} MB |`,
    '',
    `legitimate sessions: ${legit.map((l) => `${(l.at / 1000).toFixed(0)}s ${l.outcome} (${(l.waitMs / 1000).toFixed(1)} s)`).join('; ')}`,
    '',
  ].join('\n'),
);
process.exit(0);
