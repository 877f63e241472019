import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { BrowserContext, Page } from 'playwright-core';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { launchChromium } from './helpers/chromium.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';
import { TestSink } from './helpers/smtp-sink.js';
import { SmtpTalk } from './helpers/smtp.js';

const TOKEN = 'console-token-3f9a1c';
const USER = 'admin';
const PASSWORD = 'console-pw-81d2';

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it answers true; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(100);
  }
}

/**
 * The console at / (issue 11 item 4) in a real headless Chromium against a real `mtaq pipeline`
 * (RabbitMQ, a private Redis, an SMTP sink as the upstream): login through the form, rule forms,
 * CSRF refusals, and live numbers that move when mail flows.
 */
describe('web console in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-console-'));
  const outbox = uniqueName('console-outbox');
  const success = `${outbox}-success`;
  const exchange = uniqueName('console-cluster');
  const parkQueue = `${outbox}.park.pause.30`;
  let broker: TestBroker;
  let redis: PrivateRedis;
  let sink: TestSink;
  let mtaq: MtaqProcess;
  let context: BrowserContext;
  let page: Page;
  let www: number;
  let smtp: number;
  let base: string;

  const rest = async (path: string): Promise<Array<Record<string, unknown>>> => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200);
    return (await response.json()) as Array<Record<string, unknown>>;
  };
  const reloads = (): number => mtaq.logs.filter((l) => l['msg'] === 'cluster asked for a rule reload').length;
  /** Runs `edit` and waits until delivery has reloaded the rules it announced on the cluster exchange. */
  const reloadedAfter = async (edit: () => Promise<void>): Promise<void> => {
    const before = reloads();
    await edit();
    await until('delivery to reload the rules', () => reloads() > before);
    await wait(200);
  };
  const send = async (to: string, subject: string): Promise<void> => {
    const client = await SmtpTalk.connect(smtp);
    assert.equal((await client.read()).code, 220);
    await client.command('EHLO client.example');
    const reply = await client.send('sender@example.com', [to], `Subject: ${subject}\r\n\r\nconsole test\r\n`);
    assert.equal(reply.code, 250, reply.text);
    await client.quit();
  };
  const queueCell = (name: string, column: number): Promise<string> =>
    page.locator(`#queues tr[data-queue="${name}"] td:nth-child(${column})`).innerText({ timeout: 500 }).catch(() => '');

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    sink = await TestSink.start({ host: '127.0.0.1' });
    www = await freePort();
    smtp = await freePort();
    base = `http://127.0.0.1:${www}`;
    const config = writeConfig(
      [
        `rabbitmq-address: ${AMQP_URL}`,
        `rabbitmq-inbox: ${outbox}`,
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-success: ${success}`,
        `redis-address: ${redis.url}`,
        `cluster-exchange: ${exchange}`,
        'database-ttl: 600',
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${smtp}`,
        'smtp-range: 127.0.0.0/8',
        'smtp-hostname: console.ours.test',
        'smtp-sink-address: 127.0.0.1',
        `smtp-sink-port: ${sink.port}`,
        'smtp-default-ips: 127.0.0.1',
        'delivery-idle-timeout: 1',
        'www-ip: 127.0.0.1',
        `www-port: ${www}`,
        `www-token: ${TOKEN}`,
        `www-auth: hardcoded://${USER}:${PASSWORD}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('pipeline', ['--config-file', config]);
    // rule edits reach delivery through the cluster exchange: wait until it listens there
    await until('delivery to listen on the cluster exchange', () => mtaq.logs.some((l) => /^listening (on the cluster exchange|for cluster rule reloads)$/.test(String(l['msg']))));
    context = await launchChromium(join(dir, 'chromium'));
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await mtaq?.stop().catch(() => undefined);
    await sink?.close().catch(() => undefined);
    // the node queue (<outbox>.node.<server-id>) delivery declares for mail bound to this node's IPs
    await broker.deleteQueues(outbox, success, parkQueue, `${outbox}.node.1`);
    await broker.channel.deleteExchange(exchange).catch(() => undefined);
    await broker.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('without a session: the page redirects to the login form, the data is refused', async () => {
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(await page.locator('input[name=password]').count(), 1);
    const data = await page.request.get(`${base}/console/data.json`);
    assert.equal(data.status(), 401);
  });

  test('a wrong password is refused on the form; the right one logs in', async () => {
    await page.fill('input[name=username]', USER);
    await page.fill('input[name=password]', 'wrong');
    await page.click('button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.match(await page.locator('.flash.error').innerText(), /Wrong user name or password/);
    await page.fill('input[name=username]', USER);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/');
    const cookie = (await context.cookies(base)).find((c) => c.name === 'mtaq_console');
    assert.ok(cookie, 'session cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    // the live panel fills from data.json: the outbox (= inbox) with its depth and delivery consuming it
    await until('the outbox row', async () => (await queueCell(outbox, 1)) === 'inbox, outbox');
    await until('delivery as the outbox consumer', async () => Number(await queueCell(outbox, 4)) >= 1);
  });

  let pauseId: number;

  test('a pause added through the form is listed, stored (REST) and holds mail in the park queue', async () => {
    await reloadedAfter(async () => {
      const form = page.locator('form.add[data-kind=pauses]');
      await form.locator('input[name=domain]').fill('held.test');
      await form.locator('input[name=description]').fill('added in Chromium');
      await form.locator('button[type=submit]').click();
    });
    assert.match(await page.locator('.flash.ok').innerText(), /Added pauses row \d+/);
    const row = page.locator('#pauses tbody tr', { hasText: 'held.test' });
    assert.equal(await row.count(), 1);
    const stored = await rest('/v1/pauses');
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!['domain'], 'held.test');
    assert.equal(stored[0]!['description'], 'added in Chromium');
    pauseId = stored[0]!['id'] as number;
    assert.equal(await row.getAttribute('data-id'), String(pauseId));

    await send('someone@held.test', 'held');
    await send('someone@free.test', 'free');
    // the rate is the mean of the last 5 s: watched from now on, beside the slower waits below
    // (after them it may have fallen back to zero already)
    const rateSeen = until('a rate in above zero', async () => Number(await page.locator('#rate-in').innerText()) > 0, 12_000).then(
      () => undefined,
      (err: unknown) => err,
    );
    await sink.waitFor(1);
    assert.deepEqual(sink.received.map((m) => m.to), [['someone@free.test']]);
    // the paused message shows up as the depth of the park queue; the rates and results move
    await until('the park queue with one message', async () => (await queueCell(parkQueue, 3)) === '1', 12_000);
    assert.equal(await queueCell(parkQueue, 1), 'paused');
    const rateError = await rateSeen;
    if (rateError) throw rateError;
    await until('one accepted message in the results', async () => {
      const header = await page.locator('#results thead th').allTextContents();
      const column = header.indexOf('message accepted');
      if (column < 0) return false;
      const cells = await page.locator(`#results tbody tr td:nth-child(${column + 1})`).allTextContents();
      return cells.reduce((a, b) => a + Number(b), 0) === 1;
    });
  });

  test('a POST without the CSRF token (or with a wrong one, or without a session) is refused with 403', async () => {
    const before = (await rest('/v1/pauses')).length;
    // from the console's own page, so the browser sends the session cookie: only the token is wrong
    const post = (path: string, fields: Record<string, string>): Promise<{ status: number; text: string }> =>
      page.evaluate(
        async ([url, form]) => {
          const response = await fetch(url, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
          return { status: response.status, text: await response.text() };
        },
        [path, fields] as const,
      );
    const refusedToken = /did not come from the console/;
    const missing = await post('/console/rules/pauses', { domain: 'evil.test' });
    assert.equal(missing.status, 403);
    assert.match(missing.text, refusedToken);
    const wrong = await post('/console/rules/pauses', { domain: 'evil.test', csrf: 'forged' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.text, refusedToken);
    const deleteWithout = await post(`/console/rules/pauses/${pauseId}/delete`, {});
    assert.equal(deleteWithout.status, 403);
    assert.match(deleteWithout.text, refusedToken);
    const csrf = await page.locator('form.add[data-kind=pauses] input[name=csrf]').inputValue();
    const anonymous = await fetch(`${base}/console/rules/pauses`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ domain: 'evil.test', csrf }).toString(),
      redirect: 'manual',
    });
    assert.equal(anonymous.status, 403, 'a good token without the session cookie');
    assert.equal((await rest('/v1/pauses')).length, before, 'nothing was added or deleted');
  });

  test('connection budgets in use are read from Redis', async () => {
    const client = new Redis(redis.url);
    try {
      const [seconds] = await client.time();
      const expires = Number(seconds) * 1000 + 60_000;
      await client.zadd('mtaq:conn:mx.budget.test', expires, 'lease-a', expires, 'lease-b');
      await client.zadd('mtaq:conn:mx.budget.test:127.0.0.1', expires, 'lease-a', expires, 'lease-b');
      await until('the budget row', async () => {
        const text = await page.locator('#budgets tbody').innerText();
        return /mx\.budget\.test\s+2/.test(text) && text.includes('127.0.0.1: 2');
      });
      assert.match(await page.locator('#redis').innerText(), /Cluster-wide/);
    } finally {
      await client.del('mtaq:conn:mx.budget.test', 'mtaq:conn:mx.budget.test:127.0.0.1');
      client.disconnect();
    }
  });

  test('deleting the pause through the form removes it and releases the held mail', async () => {
    await page.screenshot({ path: join(tmpdir(), `mtaq-console-${process.pid}.png`), fullPage: true });
    await reloadedAfter(async () => {
      await page.locator(`#pauses tr[data-id="${pauseId}"] button.delete`).click();
    });
    assert.match(await page.locator('.flash.ok').innerText(), new RegExp(`Deleted pauses row ${pauseId}`));
    assert.equal(await page.locator('#pauses tbody tr', { hasText: 'held.test' }).count(), 0);
    assert.deepEqual(await rest('/v1/pauses'), []);
    await sink.waitFor(2);
    assert.ok(sink.received.some((m) => m.to.includes('someone@held.test')), 'released and delivered once the pause is gone');
    assert.equal(sink.received.length, 2, 'each message sent once');
  });

  test('logging out ends the session', async () => {
    await page.locator('header button[type=submit]').click();
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/login');
  });
});
