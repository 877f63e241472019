/**
 * Refreshes docs/console.png, the console screenshot in the README: starts a real `mtaq pipeline`
 * (RabbitMQ on 127.0.0.1, a private Redis, an SMTP sink as the upstream that accepts most mail,
 * refuses some and defers some), adds a few rules through the REST API, sends mail for a few
 * seconds and photographs the console in headless Chromium while it flows. Needs `npm run build`
 * and what scripts/test-env.sh installs. Run: node --import tsx scripts/console-screenshot.ts
 */

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AMQP_URL, TestBroker } from '../test/helpers/amqp.js';
import { launchChromium } from '../test/helpers/chromium.js';
import { freePort } from '../test/helpers/ports.js';
import { ROOT, startMtaq, writeConfig } from '../test/helpers/process.js';
import { privateRedis } from '../test/helpers/redis.js';
import { TestSink } from '../test/helpers/smtp-sink.js';
import { SmtpTalk } from '../test/helpers/smtp.js';

const TOKEN = 'screenshot-token';
const PASSWORD = 'screenshot';
const OUTBOX = 'mtaq-demo-outbox';
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(join(tmpdir(), 'mtaq-console-shot-'));
const broker = await TestBroker.open();
const redis = await privateRedis();
// upstream: 0.6 s per message keeps connections (and so budget slots) busy; bounce* refused, later* deferred
const sink = await TestSink.start({
  host: '127.0.0.1',
  dataDelay: 600,
  decide: (stage, info) => {
    if (stage !== 'rcpt') return undefined;
    if (info.address?.startsWith('bounce')) return { code: 550, message: '5.1.1 No such user' };
    if (info.address?.startsWith('later')) return { code: 451, message: '4.7.1 Try again later' };
    return undefined;
  },
});
const www = await freePort();
const smtp = await freePort();
const base = `http://127.0.0.1:${www}`;
const queues = { results: 'mtaq-demo-results', success: 'mtaq-demo-success', failure: 'mtaq-demo-failure', retry: 'mtaq-demo-retry' };
const exchange = `mtaq-demo-cluster-${process.pid}`;
const config = writeConfig(
  [
    `rabbitmq-address: ${AMQP_URL}`,
    `rabbitmq-inbox: ${OUTBOX}`,
    `rabbitmq-outbox: ${OUTBOX}`,
    ...Object.entries(queues).map(([key, name]) => `rabbitmq-${key}: ${name}`),
    `redis-address: ${redis.url}`,
    `cluster-exchange: ${exchange}`,
    'smtp-ip: 127.0.0.1',
    `smtp-port: ${smtp}`,
    'smtp-range: 127.0.0.0/8',
    'smtp-hostname: mta1.example.com',
    'smtp-sink-address: 127.0.0.1',
    `smtp-sink-port: ${sink.port}`,
    'smtp-default-ips: 127.0.0.1',
    'delivery-limits: * * connections=6',
    'www-ip: 127.0.0.1',
    `www-port: ${www}`,
    `www-token: ${TOKEN}`,
    `www-auth: hardcoded://admin:${PASSWORD}`,
  ].join('\n'),
);
const mtaq = await startMtaq('pipeline', ['--config-file', config]);
let context: Awaited<ReturnType<typeof launchChromium>> | undefined;
let seen: string[] = [];
try {
  const rule = async (kind: string, body: object): Promise<void> => {
    const response = await fetch(`${base}/v1/${kind}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (response.status !== 201) throw new Error(`POST /v1/${kind}: ${response.status} ${await response.text()}`);
  };
  await rule('suppressions', { type: 'address', value: 'spamtrap@example.net', code: 550, extended: '5.7.1', description: 'Known spamtrap' });
  await rule('suppressions', { type: 'domain', value: 'example.invalid', description: 'Never deliverable' });
  await rule('pauses', { domain: 'slow.example', description: 'Throttling us: paused until tomorrow' });
  await rule('errors', { domain: 'blocked.example', code: 421, extended: '4.7.0', description: 'Waiting for delisting' });
  await rule('patterns', { pattern: 'try again later', match: 'substring', actions: { result: 'retry', after: 900 }, description: 'Greylisting' });
  await rule('pools', { name: 'bulk', description: 'Newsletters' });
  await rule('poolips', { pool: 'bulk', ip: '127.0.0.1' });
  await wait(500);

  // mail for ~14 s: mostly deliverable, some refused, deferred, paused and suppressed
  let sending = true;
  const recipients = ['anna@example.org', 'ben@example.org', 'chris@example.com', 'bounce@example.org', 'later@example.com', 'x@slow.example', 'spamtrap@example.net', 'dora@example.com'];
  const sender = (async () => {
    for (let i = 0; sending; i++) {
      const client = await SmtpTalk.connect(smtp);
      await client.read();
      await client.command('EHLO newsletter.example.com');
      for (let j = 0; j < 4 && sending; j++) {
        const to = recipients[(i * 4 + j) % recipients.length]!;
        await client.send('news@example.com', [to], `Subject: Issue ${i}.${j}\r\n\r\nHello\r\n`);
      }
      await client.quit();
      await wait(150);
    }
  })();

  context = await launchChromium(join(dir, 'chromium'), { width: 1400, height: 1100 });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}/login`);
  await page.fill('input[name=username]', 'admin');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await wait(14_000);
  mkdirSync(join(ROOT, 'docs'), { recursive: true });
  await page.screenshot({ path: join(ROOT, 'docs', 'console.png') });
  console.log('wrote docs/console.png');
  const data = (await page.evaluate(() => fetch('/console/data.json').then((r) => r.json()))) as { queues: { main: Array<{ name: string }>; waiting: Array<{ name: string }> } };
  seen = [...data.queues.main, ...data.queues.waiting].map((q) => q.name);
  sending = false;
  await sender;
} finally {
  await context?.close().catch(() => undefined);
  await mtaq.stop();
  await sink.close();
  await broker.deleteQueues(OUTBOX, ...Object.values(queues), `${OUTBOX}.park.pause.30`, `${OUTBOX}.node.1`, ...seen);
  await broker.channel.deleteExchange(exchange).catch(() => undefined);
  await broker.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
