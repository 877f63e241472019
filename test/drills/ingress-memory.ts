/**
 * Ingress memory drill (issue 8, item 2): real SMTP clients (nodemailer's SMTPConnection) against a
 * real `mtaq ingress` with a queue of its own, the ingress's VmRSS sampled from /proc every 100 ms.
 *
 *   node --import tsx test/drills/ingress-memory.ts            # the full loads, a markdown table
 *   node --import tsx test/drills/ingress-memory.ts --small    # the npm-test sizes
 *
 * Loads: one unauthenticated transaction to N Local Addresses with a 1 MB body; S sessions each
 * sending one message of M MB. Clients declare SIZE= and retry what gets a 4xx (452 at MAIL FROM or
 * RCPT, 451) after a short pause, as an MTA would; every 451 is counted.
 */
import { readFileSync } from 'node:fs';
import { connect, type ChannelModel } from 'amqplib';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { startMtaq, writeConfig, type MtaqProcess } from '../helpers/process.js';
import { freePort } from '../helpers/ports.js';

const AMQP = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';
const MB = 1024 * 1024;

export interface Load {
  readonly name: string;
  /** Sessions, each sending one message. */
  readonly sessions: number;
  /** Recipients of each message (Local Addresses). */
  readonly recipients: number;
  readonly bytes: number;
}

export interface LoadResult {
  readonly load: Load;
  readonly peakRssMb: number;
  /** Recipients whose copy got a final 250. */
  readonly accepted: number;
  readonly expected: number;
  /** 451 replies seen by any client (MAIL FROM or after DATA). */
  readonly replies451: number;
  /** 452 replies (smtp-max-inflight at MAIL FROM, recipients × size at RCPT): retried. */
  readonly replies452: number;
  readonly seconds: number;
  /** Documents in the queue afterwards. */
  readonly queued: number;
}

/** A message body of about `bytes`, in 76-character CRLF lines. */
function body(bytes: number, tag: string): Buffer {
  const line = `${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2)}ABCD\r\n`;
  const head = `From: load@client.test\r\nTo: many@local.test\r\nSubject: memory drill ${tag}\r\nMessage-ID: <${tag}@client.test>\r\n\r\n`;
  return Buffer.from(head + line.repeat(Math.max(1, Math.floor((bytes - head.length) / line.length))));
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Tally {
  accepted: number;
  r451: number;
  r452: number;
}

/** One client: sends `message` to `recipients`, retrying whatever a 4xx left over, until done or `deadline`. */
async function client(port: number, recipients: string[], message: Buffer, tally: Tally, deadline: number): Promise<void> {
  let pending = recipients;
  while (pending.length && Date.now() < deadline) {
    const conn = new SMTPConnection({ port, host: '127.0.0.1', name: 'client.test', socketTimeout: 300_000, connectionTimeout: 30_000 } as never);
    conn.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => conn.connect((err?: Error) => (err ? reject(err) : resolve())));
      const info = await new Promise<{ accepted: string[]; rejected: string[]; rejectedErrors?: Array<{ responseCode?: number }> }>((resolve, reject) =>
        conn.send({ from: 'load@client.test', to: pending, size: message.length } as never, message, (err, i) => (err ? reject(err) : resolve(i as never))),
      );
      tally.accepted += info.accepted.length;
      for (const e of info.rejectedErrors ?? []) {
        if (e.responseCode === 451) tally.r451++;
        if (e.responseCode === 452) tally.r452++;
      }
      pending = info.rejected;
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode;
      if (process.env['DRILL_DEBUG']) console.error('send error', code, (err as Error).message);
      const rejected = (err as { rejected?: string[] }).rejected;
      if (code === 451) tally.r451++;
      else if (code === 452) tally.r452++;
      else if (code !== undefined && code >= 500) throw err;
      // a 452 on every recipient (RCPT) leaves them all pending; anything else: retry the whole set
      void rejected;
    } finally {
      conn.quit();
      conn.close();
    }
    if (pending.length) await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
  }
}

/** Runs one load against its own ingress and queue; the queue is deleted afterwards. */
export async function runLoad(load: Load, options: { extraConfig?: string[]; timeoutMs?: number } = {}): Promise<LoadResult> {
  const queue = `mtaq-drill-memory-${process.pid}-${Date.now().toString(36)}`;
  const admin: ChannelModel = await connect(AMQP);
  const ch = await admin.createChannel();
  const port = await freePort();
  const config = writeConfig(
    [
      'smtp-ip: 127.0.0.1',
      `smtp-port: ${port}`,
      'smtp-local-addresses: @local.test',
      `rabbitmq-address: ${AMQP}`,
      `rabbitmq-inbox: ${queue}`,
      `rabbitmq-outbox: ${queue}`,
      'smtp-connections-per-ip: 0',
      'smtp-connection-rate-per-ip: 0',
      // a pipelining client that hears 452 4.5.3 for the recipients past smtp-max-inflight would
      // otherwise collect smtp-max-errors of them and be cut off (reported; connection.ts counts them)
      'smtp-max-errors: 100000',
      ...(options.extraConfig ?? []),
    ].join('\n'),
  );
  let mtaq: MtaqProcess | undefined;
  let peak = 0;
  let sampler: NodeJS.Timeout | undefined;
  try {
    mtaq = await startMtaq('ingress', ['--config-file', config]);
    const pid = mtaq.child.pid!;
    peak = rssMb(pid);
    sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMb(pid));
      } catch {
        // exited
      }
    }, 100);
    const tally: Tally = { accepted: 0, r451: 0, r452: 0 };
    const started = Date.now();
    const deadline = started + (options.timeoutMs ?? 600_000);
    await Promise.all(
      Array.from({ length: load.sessions }, (_, s) =>
        client(port, Array.from({ length: load.recipients }, (_, r) => `user${r}.s${s}@local.test`), body(load.bytes, `s${s}`), tally, deadline),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    const queued = (await ch.checkQueue(queue)).messageCount;
    return {
      load,
      peakRssMb: Math.round(peak),
      accepted: tally.accepted,
      expected: load.sessions * load.recipients,
      replies451: tally.r451,
      replies452: tally.r452,
      seconds: Math.round(seconds * 10) / 10,
      queued,
    };
  } finally {
    clearInterval(sampler);
    await mtaq?.stop().catch(() => undefined);
    await ch.deleteQueue(queue).catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
}

export const FULL_LOADS: Load[] = [
  { name: '1 transaction × 1,000 Local Addresses × 1 MB', sessions: 1, recipients: 1000, bytes: 1 * MB },
  { name: '150 sessions × 5 MB', sessions: 150, recipients: 1, bytes: 5 * MB },
  { name: '150 sessions × 8 MB', sessions: 150, recipients: 1, bytes: 8 * MB },
];

export const SMALL_LOADS: Load[] = [
  { name: '1 transaction × 100 Local Addresses × 1 MB', sessions: 1, recipients: 100, bytes: 1 * MB },
  { name: '20 sessions × 5 MB', sessions: 20, recipients: 1, bytes: 5 * MB },
];

export function table(results: LoadResult[]): string {
  const rows = results.map(
    (r) => `| ${r.load.name} | ${r.peakRssMb} MB | ${r.accepted}/${r.expected} (queued ${r.queued}) | ${r.replies451} | ${r.replies452} | ${r.seconds} s |`,
  );
  return ['| load | peak RSS | accepted | 451s | 452s (retried) | time |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const loads = process.argv.includes('--small') ? SMALL_LOADS : FULL_LOADS;
  const results: LoadResult[] = [];
  for (const load of loads) {
    process.stderr.write(`running: ${load.name}\n`);
    results.push(await runLoad(load));
  }
  process.stdout.write(`${table(results)}\n`);
}
