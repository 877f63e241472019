/**
 * Two delivery nodes, one rule database (reference §7.10 `cluster`, §9 cluster exchange): node A
 * (server-id 21, HTTP server with a token) and node B (server-id 22, no HTTP server) read the same
 * PostgreSQL database — a database of this test's own — and listen on a cluster exchange of this
 * test's own; each consumes an outbox of its own, so the test decides which node a message goes
 * to. A pause made through A's REST API with `cluster: true` holds mail on B (parked: nothing at
 * the sink, no results entry) until it is deleted through A; one with `cluster: false` is owned
 * by A (owner "21", A's server-id) and holds mail on A only while B delivers. `database-ttl` is
 * long, so every change reaches the nodes through the `{"reload": true}` A publishes, not a timer.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishReload } from '@mtaq/rules';
import { postgresBackend } from '../packages/rules/test/backends.js';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { TestSink } from './helpers/smtp-sink.js';
import { http } from './helpers/www.js';

type Doc = Record<string, unknown>;

const RUN = `${process.pid}_${Date.now().toString(36)}`;
const TOKEN = 'cluster-token-5e2f90';
const MIME = 'From: sender@example.com\r\nTo: someone@example.org\r\nSubject: cluster\r\n\r\nHello\r\n';
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `found` holds, checking every 25 ms. */
async function until(what: string, found: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await found())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(25);
  }
}

interface Node {
  readonly name: string;
  readonly outbox: string;
  readonly results: string;
  readonly queues: readonly string[];
  process: MtaqProcess;
  /** Every document taken from this node's results queue so far. */
  readonly resultDocs: Doc[];
}

describe('rules across two delivery nodes: cluster:true binds every node, cluster:false only its owner', () => {
  // a PostgreSQL database of this test's own, dropped at the end
  const postgres = postgresBackend();
  const exchange = uniqueName('rules-cluster-x');
  let broker: TestBroker;
  let sink: TestSink;
  let www: number;
  const nodes: Record<'A' | 'B', Node> = { A: node('A', 21), B: node('B', 22) };

  function node(name: string, serverId: number): Node {
    const outbox = uniqueName(`rules-cluster-${name}`);
    const results = `${outbox}-results`;
    // every queue a node declares: its outbox, the result queues, the pause park queue, its own node queue (§9)
    const queues = [outbox, results, `${outbox}-success`, `${outbox}-failure`, `${outbox}-retry`, `${outbox}.park.pause.30`, `${outbox}.node.${serverId}`];
    return { name, outbox, results, queues, process: undefined as never, resultDocs: [] };
  }

  const mid = (name: string): string => `${name}-${RUN}`;
  const publish = (to: Node, name: string, recipient: string): Promise<void> =>
    broker.publishJson(to.outbox, { 'message-id': mid(name), envelope: 'sender@example.com', recipient, mime: MIME });
  const atSink = (recipient: string): number => sink.received.filter((m) => m.to.includes(recipient)).length;
  /** Results documents of `name` on the node's results queue (drains what is there now). */
  const results = async (on: Node, name: string): Promise<Doc[]> => {
    for (;;) {
      const got = await broker.channel.get(on.results, { noAck: true });
      if (!got) break;
      on.resultDocs.push(JSON.parse(got.content.toString()) as Doc);
    }
    return on.resultDocs.filter((d) => d['message-id'] === mid(name));
  };
  const logs = (on: Node, msg: string): Array<Record<string, unknown>> => on.process.logs.filter((l) => l['msg'] === msg);
  /** Resolves once both nodes reloaded after `change` and hold `pauses` pauses (A announces every change). */
  const changeAndReload = async <T>(pauses: number, change: () => Promise<T>): Promise<T> => {
    const seen = { A: logs(nodes.A, 'rules reloaded').length, B: logs(nodes.B, 'rules reloaded').length };
    const answer = await change();
    for (const n of [nodes.A, nodes.B]) {
      await until(`node ${n.name} to reload with ${pauses} pause(s)`, () => logs(n, 'rules reloaded').slice(seen[n.name as 'A' | 'B']).some((l) => l['pauses'] === pauses));
    }
    return answer;
  };
  const pause = async (body: object): Promise<{ id: number; owner: string | null; cluster: boolean }> => {
    const created = await http(www, 'POST', '/v1/pauses', { token: TOKEN, json: body });
    assert.equal(created.status, 201, created.text);
    return created.body;
  };
  const lift = async (id: number): Promise<void> => {
    const deleted = await http(www, 'DELETE', `/v1/pauses/${id}`, { token: TOKEN });
    assert.equal(deleted.status, 200, deleted.text);
  };

  before(async () => {
    broker = await TestBroker.open();
    const address = await postgres.fresh();
    sink = await TestSink.start({ host: '127.0.0.1', name: 'sink.cluster.test' });
    www = await freePort();
    const config = (n: Node, serverId: number, extra: string[]): string =>
      writeConfig(
        [
          'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
          `rabbitmq-outbox: ${n.outbox}`,
          `rabbitmq-inbox: ${n.outbox}`,
          `rabbitmq-results: ${n.results}`,
          `rabbitmq-success: ${n.outbox}-success`,
          `rabbitmq-failure: ${n.outbox}-failure`,
          `rabbitmq-retry: ${n.outbox}-retry`,
          'redis-address:',
          `server-id: ${serverId}`,
          'smtp-hostname: mtaq.test',
          'smtp-default-ips: 127.0.0.1',
          'smtp-sink-address: 127.0.0.1',
          `smtp-sink-port: ${sink.port}`,
          'delivery-idle-timeout: 1',
          `database-address: ${address}`,
          'database-ttl: 600',
          `cluster-exchange: ${exchange}`,
          // 'rules reloaded' (with the table sizes) is a debug line: the test waits for it
          'log-level: debug',
          ...extra,
        ].join('\n'),
      );
    const [a, b] = await Promise.all([
      startMtaq('delivery', ['--config-file', config(nodes.A, 21, ['www-ip: 127.0.0.1', `www-port: ${www}`, `www-token: ${TOKEN}`])]),
      startMtaq('delivery', ['--config-file', config(nodes.B, 22, [])]),
    ]);
    nodes.A.process = a;
    nodes.B.process = b;
    // both nodes listen on the cluster exchange once a {"reload": true} published there reloads them
    // (asked until it does: a node binds its queue to the exchange a moment after it says "delivering")
    await until('both nodes to reload on a cluster message', async () => {
      await publishReload(broker.channel, exchange);
      await wait(150);
      return logs(nodes.A, 'rules reloaded').length > 0 && logs(nodes.B, 'rules reloaded').length > 0;
    });
  });

  after(async () => {
    await Promise.all([nodes.A.process?.stop().catch(() => undefined), nodes.B.process?.stop().catch(() => undefined)]);
    await sink?.close().catch(() => undefined);
    await broker.deleteQueues(...nodes.A.queues, ...nodes.B.queues);
    await broker.channel.deleteExchange(exchange).catch(() => undefined);
    await broker.close();
    await postgres.cleanup();
  });

  test('a cluster:true pause made through A holds mail on B (parked, nothing sent, no result) until it is deleted through A', async () => {
    const made = await changeAndReload(1, () => pause({ domain: 'held.example', cluster: true, description: 'throttling us' }));
    assert.equal(made.cluster, true);
    assert.equal(made.owner, '21', 'the REST path records the creating node (A, server-id 21) as owner');

    await publish(nodes.B, 'held', 'u@held.example');
    await until('B to park the paused message', () => logs(nodes.B, 'paused: message parked').some((l) => l['rcpt'] === 'u@held.example' && l['pause'] === made.id));
    // B keeps delivering what the pause does not cover, so the held message's absence is the pause's doing
    await publish(nodes.B, 'free', 'u@free.example');
    await until('B to deliver the unpaused message', () => atSink('u@free.example') === 1);
    await wait(500);
    assert.equal(atSink('u@held.example'), 0, 'held: nothing reached the sink');
    assert.deepEqual(await results(nodes.B, 'held'), [], 'held: no results entry');
    assert.equal((await results(nodes.B, 'free')).length, 1);
    assert.equal(logs(nodes.A, 'paused: message parked').length, 0, 'A had nothing to hold');

    const lifted = Date.now();
    await lift(made.id);
    await until('B to deliver the released message', () => atSink('u@held.example') === 1, 10_000);
    assert.ok(Date.now() - lifted < 8000, 'released when the pause is deleted, not after the 30 s park time');
    await until('the result of the released message', async () => (await results(nodes.B, 'held')).length === 1);
    const [doc] = await results(nodes.B, 'held');
    assert.equal((doc!['results'] as Doc[]).length, 1, 'one attempt: parking added no entry');
    assert.equal((doc!['results'] as Doc[])[0]!['result'], 'accepted');
  });

  test('a cluster:false pause made through A holds mail on A only; B delivers the same domain', async () => {
    const made = await changeAndReload(1, () => pause({ domain: 'local.example', cluster: false }));
    assert.equal(made.cluster, false);
    assert.equal(made.owner, '21', 'owned by node A (its server-id)');

    await publish(nodes.A, 'on-a', 'a@local.example');
    await publish(nodes.B, 'on-b', 'b@local.example');
    await until('B to deliver despite the pause of A', () => atSink('b@local.example') === 1);
    await until('A to park its message', () => logs(nodes.A, 'paused: message parked').some((l) => l['rcpt'] === 'a@local.example' && l['pause'] === made.id));
    await wait(500);
    assert.equal(atSink('a@local.example'), 0, 'held on A');
    assert.deepEqual(await results(nodes.A, 'on-a'), [], 'held on A: no results entry');
    assert.equal(logs(nodes.B, 'paused: message parked').filter((l) => l['rcpt'] === 'b@local.example').length, 0, 'never parked on B');

    await lift(made.id);
    await until('A to deliver once its pause is deleted', () => atSink('a@local.example') === 1, 10_000);
    assert.equal(atSink('b@local.example'), 1, 'sent once');
  });
});
