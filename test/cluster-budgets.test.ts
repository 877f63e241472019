import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { privateRedis, type PrivateRedis } from './helpers/redis.js';

/**
 * §9 / issue 12 budgets across the cluster: two delivery nodes (A sends from 127.0.1.1, B from
 * 127.0.2.1) share one outbox and one Redis. The destination allows 3 connections from every IP
 * together (`all one.test connections=3`) and each node may open 2 (`smtp-connections-out`), so
 * the nodes could open 4 between them: the sink counts what they really open at the same time.
 */

const DESTINATION_LIMIT = 3;
const PER_NODE = 2;
const MESSAGES = 40;

/** An SMTP sink counting concurrent sessions, in total and per client address. */
async function countingSink() {
  const open = new Map<string, number>();
  const max = new Map<string, number>();
  const delivered: string[] = [];
  let total = 0;
  let maxTotal = 0;
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onConnect(session, callback) {
      const ip = session.remoteAddress;
      open.set(ip, (open.get(ip) ?? 0) + 1);
      max.set(ip, Math.max(max.get(ip) ?? 0, open.get(ip)!));
      maxTotal = Math.max(maxTotal, ++total);
      callback();
    },
    onClose(session) {
      open.set(session.remoteAddress, (open.get(session.remoteAddress) ?? 1) - 1);
      total--;
    },
    onData(stream, session, callback) {
      stream.resume();
      // each message holds its connection a while, so the nodes want more connections than they may have
      stream.on('end', () => setTimeout(() => {
        delivered.push(session.envelope.rcptTo[0]!.address);
        callback(null, 'Ok');
      }, 150));
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.server.address() as AddressInfo).port,
    delivered,
    max,
    maxTotal: () => maxTotal,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('cluster: connection budgets across two delivery nodes', () => {
  const outbox = uniqueName('budget-outbox');
  const exchange = uniqueName('budget-cluster');
  const success = `${outbox}-success`;
  let broker: TestBroker;
  let redis: PrivateRedis;
  let sink: Awaited<ReturnType<typeof countingSink>>;
  const nodes: MtaqProcess[] = [];

  before(async () => {
    broker = await TestBroker.open();
    redis = await privateRedis();
    sink = await countingSink();
    await broker.channel.assertQueue(success, { durable: true });
    for (const [serverId, ip] of [[201, '127.0.1.1'], [202, '127.0.2.1']] as const) {
      const config = writeConfig(
        [
          'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
          `rabbitmq-outbox: ${outbox}`,
          `rabbitmq-inbox: ${outbox}`,
          'rabbitmq-results: ',
          `rabbitmq-success: ${success}`,
          'rabbitmq-failure: ',
          `cluster-exchange: ${exchange}`,
          `server-id: ${serverId}`,
          `smtp-default-ips: ${ip}`,
          `redis-address: ${redis.url}`,
          'delivery-processes: 2',
          `delivery-limits: all one.test connections=${DESTINATION_LIMIT}`,
          `smtp-connections-out: ${PER_NODE}`,
          'delivery-idle-timeout: 1',
          'delivery-max-messages: 5',
          'smtp-hostname: mtaq.test',
          'smtp-sink-address: 127.0.0.1',
          `smtp-sink-port: ${sink.port}`,
        ].join('\n'),
      );
      nodes.push(await startMtaq('delivery', ['--config-file', config]));
    }
  });

  after(async () => {
    for (const node of nodes) await node.stop();
    await broker.deleteQueues(outbox, success, `${outbox}.node.201`, `${outbox}.node.202`);
    await broker.channel.deleteExchange(exchange).catch(() => undefined);
    await broker.close();
    await sink.close();
    await redis.stop();
  });

  test(`the sink never sees more than ${DESTINATION_LIMIT} sessions, nor a node more than ${PER_NODE}; every message once`, async (t) => {
    for (let i = 0; i < MESSAGES; i++) {
      await broker.publishJson(outbox, { 'message-id': `budget-${i}`, envelope: 's@example.com', recipient: `r${i}@one.test`, mime: 'Subject: budget\r\n\r\nHi\r\n' });
    }
    const deadline = Date.now() + 25_000;
    while (sink.delivered.length < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would show up by now
    t.diagnostic(`sessions at once: total ${sink.maxTotal()}, by node ${JSON.stringify(Object.fromEntries(sink.max))}`);
    assert.equal(sink.delivered.length, MESSAGES, 'every message delivered');
    assert.equal(new Set(sink.delivered).size, MESSAGES, 'none twice');
    assert.ok(sink.maxTotal() <= DESTINATION_LIMIT, `destination limit held across the nodes: ${sink.maxTotal()} sessions at once`);
    for (const [ip, most] of sink.max) assert.ok(most <= PER_NODE, `smtp-connections-out held by the node sending from ${ip}: ${most}`);
    assert.deepEqual([...sink.max.keys()].sort(), ['127.0.1.1', '127.0.2.1'], 'both nodes sent');
    // the limits were what stopped them: together they reached the destination limit
    assert.equal(sink.maxTotal(), DESTINATION_LIMIT);
  });
});
