/**
 * Smoke of the cluster in deploy/cluster/: up.sh on ports, a run directory, node names and a
 * database of this test's own (beside any dev cluster), 1,000 messages through HAProxy while one
 * RabbitMQ node is killed with SIGKILL halfway, every message that got a 250 delivered to the sink,
 * duplicates reported; down.sh --purge at the end. The full drills are `bash deploy/cluster/drill.sh`.
 */

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Cluster, settle, tally } from './drills/cluster-control.js';
import { sendLoad } from './drills/cluster-load.js';
import { DrillSink } from './drills/sink.js';

const MESSAGES = 1000;

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * 40 consecutive free ports below the ephemeral range (RabbitMQ's must not be taken by a client
 * connection while a node restarts): the front +0, ingress +1, www +10..13, HAProxy stats +20,
 * AMQP +30..32, Erlang distribution +33..35, Redis +36.
 */
async function portBlock(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + 40 * Math.floor(Math.random() * 300);
    let free = true;
    for (let port = base; port < base + 40 && free; port++) {
      for (const host of ['0.0.0.0', '127.0.0.1', '127.0.0.11', '127.0.0.12']) {
        if (!(await bindable(port, host))) {
          free = false;
          break;
        }
      }
    }
    if (free) return base;
  }
  throw new Error('no block of 40 free ports in 20000-32000');
}

test('cluster smoke: 1,000 messages through HAProxy, kill -9 of a RabbitMQ node halfway, nothing lost', { timeout: 180000 }, async (t) => {
  const base = await portBlock();
  const lines: string[] = [];
  const cluster = new Cluster(
    {
      CLUSTER_SMTP_PORT: String(base),
      CLUSTER_INGRESS_PORT: String(base + 1),
      CLUSTER_WWW_PORT: String(base + 10),
      CLUSTER_HAPROXY_STATS_PORT: String(base + 20),
      CLUSTER_AMQP_PORT: String(base + 30),
      CLUSTER_DIST_PORT: String(base + 33),
      CLUSTER_REDIS_PORT: String(base + 36),
      CLUSTER_NAME: `smoke${process.pid}`,
      CLUSTER_RUN_DIR: mkdtempSync(join(tmpdir(), 'mtaq-cluster-smoke-')),
      CLUSTER_DATABASE: `postgresql://postgres@127.0.0.1:5432/mtaq_smoke_${process.pid}`,
    },
    (line) => lines.push(line),
  );
  const sink = await DrillSink.start();
  after(async () => {
    await cluster.down(true);
    await sink.close();
  });

  const started = Date.now();
  const up = await cluster.up([], { CLUSTER_SMARTHOST: `127.0.0.1:${sink.port}` });
  t.diagnostic(`up.sh: ${(up.ms / 1000).toFixed(1)} s`);

  const prefix = `smoke-${process.pid}`;
  let kill: Promise<void> | undefined;
  const load = await sendLoad({
    port: cluster.smtpPort,
    total: MESSAGES,
    prefix,
    onAccepted: (accepted) => {
      // rabbit-1 is the first address of every process: all their connections fail over
      if (accepted === MESSAGES / 2) kill ??= cluster.kill9('rabbit-1');
    },
  });
  await kill;
  assert.ok(kill, 'rabbit-1 was killed during the run');
  await settle(load, sink, 60000);
  const result = tally(load, sink, prefix);
  t.diagnostic(
    `sent in ${load.seconds.toFixed(1)} s; accepted ${result.accepted}, delivered ${result.delivered}, lost ${result.lost}, ` +
      `duplicates by delivery ${result.duplicatesByDelivery}, by client retry ${result.duplicatesByClientRetry}; ` +
      `client retries ${result.retries} (${result.retriesAfter451} after 451); whole run ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  assert.equal(load.refused + load.givenUp, 0, 'every message was accepted in the end (retrying)');
  assert.equal(result.accepted, MESSAGES);
  assert.deepEqual(result.lostTokens.slice(0, 10), [], `lost: ${result.lost}\n${lines.slice(-30).join('\n')}`);
  assert.equal(sink.anonymous, 0, 'every arrival is a drill message');
});
