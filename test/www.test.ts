import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { runCli, startMtaq, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { http } from './helpers/www.js';

const TOKEN = 'test-token-6f1c2a9e';

/** The value of one sample line of the Prometheus text, 0 when absent. */
function sample(metrics: string, line: string): number {
  const found = metrics.split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

/** The HTTP server (www-*): health, readiness, metrics, tokens, REST rule tables, POST /v1/inject; real processes, real RabbitMQ. */
describe('HTTP server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-www-'));
  const inbox = uniqueName('www-inbox');
  const outbox = uniqueName('www-outbox');
  const tokenFile = join(dir, 'tokens');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let www: number;
  let smtp: number;

  before(async () => {
    broker = await TestBroker.open();
    writeFileSync(tokenFile, `# REST clients\nother-token\n${TOKEN}\n`);
    www = await freePort();
    smtp = await freePort();
    const config = join(dir, 'mtaq.conf');
    writeFileSync(
      config,
      [
        `rabbitmq-address: ${AMQP_URL}`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-outbox: ${outbox}`,
        'redis-address:',
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${smtp}`,
        'smtp-range: 127.0.0.0/8',
        'smtp-recipient-deny: denied@example.org',
        'smtp-hostname: www.ours.test',
        'www-ip: 127.0.0.1',
        `www-port: ${www}`,
        `www-token: file://${tokenFile}`,
        `database-address: sqlite://${join(dir, 'rules.sqlite')}`,
        'delivery-method: folder',
        `delivery-folder: ${join(dir, 'delivered')}`,
      ].join('\n'),
    );
    // the pipeline: one HTTP server for ingress and delivery
    mtaq = await startMtaq('pipeline', ['--config-file', config]);
  });

  after(async () => {
    await mtaq?.stop();
    await broker.deleteQueues(inbox, outbox);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('health, readiness (ingress and delivery) and metrics on loopback without a token', async () => {
    const health = await http(www, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    let ready = await http(www, 'GET', '/ready');
    for (let i = 0; i < 50 && ready.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await http(www, 'GET', '/ready');
    }
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.body, { ready: true, checks: { delivery: true, ingress: true } });
    const metrics = await http(www, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    for (const name of ['mtaq_messages_received_total', 'mtaq_publish_confirm_seconds', 'mtaq_delivery_attempts_total', 'mtaq_connections_open', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds']) {
      assert.match(metrics.text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
  });

  test('metrics move after a message flows through the ingress; refusals are counted by reply code', async () => {
    const before = (await http(www, 'GET', '/metrics')).text;
    const client = await SmtpTalk.connect(smtp);
    assert.equal((await client.read()).code, 220);
    await client.command('EHLO client.example');
    const reply = await client.send('a@example.com', ['b@example.org', 'c@example.org'], 'Subject: metrics\r\n\r\nbody\r\n');
    assert.equal(reply.code, 250);
    await client.command('MAIL FROM:<a@example.com>');
    assert.equal((await client.command('RCPT TO:<denied@example.org>')).code, 550);
    await client.quit();
    await broker.takeJson(inbox, 2);
    const after = (await http(www, 'GET', '/metrics')).text;
    assert.equal(sample(after, 'mtaq_messages_received_total{path="smtp"}') - sample(before, 'mtaq_messages_received_total{path="smtp"}'), 1);
    assert.equal(sample(after, 'mtaq_messages_published_total') - sample(before, 'mtaq_messages_published_total'), 2);
    assert.equal(sample(after, 'mtaq_publish_confirm_seconds_count') - sample(before, 'mtaq_publish_confirm_seconds_count'), 1);
    assert.equal(sample(after, 'mtaq_messages_refused_total{code="550"}') - sample(before, 'mtaq_messages_refused_total{code="550"}'), 1);
  });

  test('delivery metrics move after a message is delivered (attempts by state and result, delivery latency)', async () => {
    const line = 'mtaq_delivery_attempts_total{state="message",result="accepted"}';
    const before = (await http(www, 'GET', '/metrics')).text;
    await broker.publishJson(outbox, { envelope: 'a@example.com', recipient: 'folder@example.org', mime: 'From: a@example.com\r\nSubject: d\r\n\r\nbody\r\n' });
    let after = before;
    for (let i = 0; i < 100 && sample(after, line) === sample(before, line); i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = (await http(www, 'GET', '/metrics')).text;
    }
    assert.equal(sample(after, line) - sample(before, line), 1, after);
    assert.equal(sample(after, 'mtaq_delivery_seconds_count') - sample(before, 'mtaq_delivery_seconds_count'), 1);
    assert.match(after, /^mtaq_connections_open\{direction="out"\} 0$/m);
    assert.match(after, /^mtaq_budget_slots_in_use 0$/m);
  });

  test('the REST API: 401 without a token and with a wrong one', async () => {
    for (const token of [undefined, 'wrong-token', `${TOKEN}x`]) {
      const answer = await http(www, 'GET', '/v1/pauses', token === undefined ? {} : { token });
      assert.equal(answer.status, 401, String(token));
      assert.equal(answer.body.error, 'missing or wrong bearer token');
      const post = await http(www, 'POST', '/v1/pauses', { ...(token === undefined ? {} : { token }), json: { domain: 'x.org' } });
      assert.equal(post.status, 401);
      assert.equal((await http(www, 'DELETE', '/v1/pauses/1', token === undefined ? {} : { token })).status, 401);
    }
    // the token is never logged
    assert.ok(!mtaq.logs.some((entry) => JSON.stringify(entry).includes('wrong-token') || JSON.stringify(entry).includes(TOKEN)));
  });

  const cases: Array<{ kind: string; good: Record<string, unknown>; bad: { body: Record<string, unknown>; field: string }; exclusive?: Record<string, unknown> }> = [
    { kind: 'suppressions', good: { type: 'address', value: 'Trap@Example.org', code: 550, extended: '5.1.1', description: 'spamtrap' }, bad: { body: { type: 'mailbox', value: 'x@y.org' }, field: 'body.type' } },
    { kind: 'pauses', good: { domain: 'slow.example', pool: 'bulk', cluster: true }, bad: { body: { domain: 'a.org', cluster: 'perhaps' }, field: 'body.cluster' }, exclusive: { pool: 'bulk', mta: '192.0.2.1' } },
    { kind: 'errors', good: { domain: 'down.example', code: 421, extended: '4.7.0', description: 'maintenance' }, bad: { body: { domain: 'a.org', code: 700 }, field: 'body.code' }, exclusive: { domain: 'a.org', ip: '192.0.2.9', code: 550 } },
    { kind: 'patterns', good: { pattern: 'try again later', match: 'substring', priority: 1, actions: { result: 'retry', after: 600 } }, bad: { body: { match: 'exact' }, field: 'body.pattern' }, exclusive: { pool: 'bulk', mta: '192.0.2.1', pattern: 'x' } },
    { kind: 'pools', good: { name: 'bulk', description: 'newsletters' }, bad: { body: { name: 'bulk', colour: 'red' }, field: 'body.colour' } },
    { kind: 'poolips', good: { pool: 'bulk', ip: '192.0.2.10' }, bad: { body: { pool: 'bulk', ip: 'not-an-ip' }, field: 'body.ip' } },
    { kind: 'externalmtas', good: { ip: '198.51.100.7', hostname: 'mta7.example.net' }, bad: { body: { hostname: 'x.example' }, field: 'body.ip' } },
  ];

  for (const { kind, good, bad, exclusive } of cases) {
    test(`/v1/${kind}: create, list, delete; a bad body names the field${exclusive ? '; exclusive fields' : ''}`, async () => {
      const created = await http(www, 'POST', `/v1/${kind}`, { token: TOKEN, json: good });
      assert.equal(created.status, 201, created.text);
      assert.equal(typeof created.body.id, 'number');
      const list = await http(www, 'GET', `/v1/${kind}`, { token: TOKEN });
      assert.equal(list.status, 200);
      assert.ok(list.body.some((row: { id: number }) => row.id === created.body.id), list.text);
      const refused = await http(www, 'POST', `/v1/${kind}`, { token: TOKEN, json: bad.body });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.field, bad.field, refused.text);
      assert.ok(refused.body.error.includes(bad.field), refused.text);
      if (exclusive) {
        const both = await http(www, 'POST', `/v1/${kind}`, { token: TOKEN, json: exclusive });
        assert.equal(both.status, 400, both.text);
        assert.match(both.body.error, /exclusive/);
      }
      const removed = await http(www, 'DELETE', `/v1/${kind}/${created.body.id}`, { token: TOKEN });
      assert.equal(removed.status, 200, removed.text);
      assert.equal((await http(www, 'DELETE', `/v1/${kind}/${created.body.id}`, { token: TOKEN })).status, 404);
      assert.ok(!(await http(www, 'GET', `/v1/${kind}`, { token: TOKEN })).body.some((row: { id: number }) => row.id === created.body.id));
    });
  }

  test('form bodies; a change is announced on the cluster exchange', async () => {
    const channel = await broker.connection.createChannel();
    await channel.assertExchange('cluster', 'fanout', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'cluster', '');
    const created = await http(www, 'POST', '/v1/errors', { token: TOKEN, form: { domain: 'form.example', code: '451', cluster: 'false' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.code, 451);
    assert.equal(created.body.cluster, false);
    let got = await channel.get(queue, { noAck: true });
    for (let i = 0; i < 50 && !got; i++) {
      await new Promise((r) => setTimeout(r, 50));
      got = await channel.get(queue, { noAck: true });
    }
    assert.ok(got, 'no cluster message');
    assert.deepEqual(JSON.parse(got.content.toString()), { reload: true });
    await channel.close();
    assert.equal((await http(www, 'DELETE', `/v1/errors/${created.body.id}`, { token: TOKEN })).status, 200);
  });

  test('POST /v1/inject: an outgoing JSON document and the {envelope, recipients, mime} form reach the inbox with the http property', async () => {
    const before = (await http(www, 'GET', '/metrics')).text;
    const document = await http(www, 'POST', '/v1/inject', {
      token: TOKEN,
      json: { envelope: 'app@example.com', recipient: 'one@example.org', mime: 'From: app@example.com\r\nSubject: json\r\n\r\nhi\r\n', tags: ['api'] },
    });
    assert.equal(document.status, 201, document.text);
    assert.equal(document.body.ids.length, 1);
    const form = await http(www, 'POST', '/v1/inject', {
      token: TOKEN,
      json: { envelope: 'app@example.com', recipients: ['two@example.org', 'three@example.org'], mime: 'From: app@example.com\r\nSubject: mime\r\n\r\nhi\r\n' },
    });
    assert.equal(form.status, 201, form.text);
    assert.equal(form.body.ids.length, 2);
    const docs = await broker.takeJson(inbox, 3);
    assert.deepEqual(docs.map((d) => d['recipient']), ['one@example.org', 'two@example.org', 'three@example.org']);
    assert.deepEqual(docs.map((d) => d['message-id']), [...document.body.ids, ...form.body.ids]);
    for (const doc of docs) {
      assert.equal(doc['envelope'], 'app@example.com');
      assert.equal(doc['hostname'], 'www.ours.test');
      const origin = doc['http'] as Record<string, unknown>;
      assert.equal(origin['authentication'], 'bearer:2');
      assert.equal(origin['remote-ip'], '127.0.0.1');
      assert.equal(typeof origin['remote-port'], 'number');
      assert.equal(doc['connection'], undefined);
    }
    assert.deepEqual(docs[0]!['tags'], ['api']);
    const after = (await http(www, 'GET', '/metrics')).text;
    assert.equal(sample(after, 'mtaq_messages_received_total{path="http"}') - sample(before, 'mtaq_messages_received_total{path="http"}'), 2);
    // bad bodies: 400 naming the field; no token: 401
    const noRecipient = await http(www, 'POST', '/v1/inject', { token: TOKEN, json: { envelope: 'a@example.com', mime: 'x' } });
    assert.equal(noRecipient.status, 400, noRecipient.text);
    const badDocument = await http(www, 'POST', '/v1/inject', { token: TOKEN, json: { recipient: 'one@example.org', mime: 'x', priority: 'high' } });
    assert.equal(badDocument.status, 400, badDocument.text);
    assert.match(badDocument.body.error, /priority/);
    assert.equal((await http(www, 'POST', '/v1/inject', { json: { recipient: 'one@example.org', mime: 'x' } })).status, 401);
    assert.equal(await broker.count(inbox), 0);
  });
});

describe('HTTP server off loopback', () => {
  test('a non-loopback www-ip without www-token refuses to start: one line, exit 78', async () => {
    const run = await runCli(['ingress', '--rabbitmq-address', AMQP_URL, '--smtp-port', String(await freePort()), '--www-ip', '0.0.0.0', '--www-port', String(await freePort())]);
    assert.equal(run.code, 78, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /^mtaq: www-ip 0\.0\.0\.0 is not a loopback address: set www-token/);
  });

  test('/metrics needs the token off loopback unless www-metrics-public; /health and /ready stay open', async () => {
    const inbox = uniqueName('www-open');
    for (const open of [false, true]) {
      const www = await freePort();
      const mtaq = await startMtaq('ingress', [
        '--rabbitmq-address', AMQP_URL, '--rabbitmq-inbox', inbox, '--redis-address', '', '--smtp-ip', '127.0.0.1', '--smtp-port', String(await freePort()),
        '--www-ip', '0.0.0.0', '--www-port', String(www), '--www-token', `${TOKEN},second`, '--www-metrics-public', String(open), '--database-address', '',
      ]);
      try {
        assert.equal((await http(www, 'GET', '/health')).status, 200);
        assert.equal((await http(www, 'GET', '/ready')).status, 200);
        assert.equal((await http(www, 'GET', '/metrics')).status, open ? 200 : 401);
        assert.equal((await http(www, 'GET', '/metrics', { token: 'nope' })).status, open ? 200 : 401);
        assert.equal((await http(www, 'GET', '/metrics', { token: 'second' })).status, 200);
        // no database-address: the rule routes answer 503
        assert.equal((await http(www, 'GET', '/v1/pools', { token: TOKEN })).status, 503);
      } finally {
        await mtaq.stop();
      }
    }
    const broker = await TestBroker.open();
    await broker.deleteQueues(inbox);
    await broker.close();
  });
});
