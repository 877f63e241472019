/**
 * The cluster's failure drills (issue 12 item 5), run by deploy/cluster/drill.sh against the cluster
 * of deploy/cluster/env.sh (all CLUSTER_* settings come from the environment). The cluster is
 * started with up.sh when it is not up; delivery-1/2 are (re)started relaying to this process's
 * DrillSink (CLUSTER_SMARTHOST). Each drill has its own token prefix:
 *
 *   (a) kill -9 of a RabbitMQ node (the outbox's quorum leader, or DRILL_RABBIT) halfway through
 *       MESSAGES (10,000) messages, restarted 10 s later
 *   (b) kill -9 of ingress-1: seconds until HAProxy marks it down, clients that retry succeed
 *   (c) kill -9 of delivery-1: mail free to leave from any IP goes through delivery-2, mail tied to
 *       delivery-1's IPs (x-mq-pool: node1, x-mq-ip: 127.0.1.2) waits and leaves from them after
 *       the restart (the sink records each arrival's source address)
 *   (d) kill -9 of the cluster's Redis during a run, restarted 5 s later
 *   (e) the whole cluster restarted (down.sh, up.sh) with mail queued while delivery was stopped
 *
 * Prints a markdown table to stdout (progress to stderr); exits 1 when a message that got its 250
 * was lost or a drill's own check failed. If the cluster was up before, it is left up with
 * delivery relaying as before; if this process started it, it is stopped (down.sh, data kept).
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLUSTER_DIR, Cluster, settle, tally, type Tally } from './cluster-control.js';
import { sendLoad, type LoadResult } from './cluster-load.js';
import { DrillSink, type TokenRecord } from './sink.js';

const MESSAGES = Number(process.env['MESSAGES'] ?? 10000);
/** Messages of the shorter drills (b)-(d). */
const SMALL = Math.max(100, Math.round(MESSAGES / 5));
/** Messages queued across the restart of (e). */
const QUEUED = Math.max(100, Math.round(MESSAGES / 10));
const NODE1_IPS = ['127.0.1.1', '127.0.1.2'];
const ALL = ['rabbit-1', 'rabbit-2', 'rabbit-3', 'redis', 'delivery-1', 'delivery-2', 'ingress-1', 'ingress-2', 'haproxy'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const progress = (line: string): void => {
  process.stderr.write(`[drill ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
};

interface Row {
  readonly drill: string;
  tally?: Tally;
  readonly notes: string[];
  /** A check of the drill itself failed (besides lost mail). */
  failed: boolean;
}

const clusterEnv: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) if (key.startsWith('CLUSTER_') && value !== undefined) clusterEnv[key] = value;
const originalSmarthost = clusterEnv['CLUSTER_SMARTHOST'] ?? '';

const sink = await DrillSink.start();
const cluster = new Cluster({ ...clusterEnv, CLUSTER_SMARTHOST: `127.0.0.1:${sink.port}` }, (line) => progress(`  ${line}`));
const runId = `c${Date.now().toString(36)}`;

function prefixTokens(prefix: string): Array<[string, TokenRecord]> {
  return [...sink.tokens].filter(([token]) => token.startsWith(`${prefix}-`));
}

/**
 * Delivery's duplicates (arrivals beyond the first and beyond the client's retries after the dot),
 * split by what the sink saw of the earlier arrival: its 250 never read (unread, or a clean close
 * right after it), or read and followed by the sender's next command and then the connection's end
 * without QUIT within a second (the sender died before it recorded the outcome). The rest would be
 * a bug; their tokens are listed.
 */
function duplicateCauses(prefix: string, load: LoadResult): { unread: number; diedAfter: number; unexplained: string[] } {
  const causes = { unread: 0, diedAfter: 0, unexplained: [] as string[] };
  for (const [token, r] of prefixTokens(prefix)) {
    if (r.arrivals < 2) continue;
    const extra = r.arrivals - 1;
    let left = extra - Math.min(extra, load.retriedAfterDot.get(token) ?? 0);
    const unread = Math.min(left, r.unread + r.hangups);
    left -= unread;
    const died = Math.min(left, r.diedAfter);
    left -= died;
    causes.unread += unread;
    causes.diedAfter += died;
    for (let i = 0; i < left; i++) causes.unexplained.push(`${token} (from ${r.sources.join(',')})`);
  }
  return causes;
}

/** Notes every drill ends with: the sink's view of duplicates, the client's retries. */
function endNotes(prefix: string, load: LoadResult, row: Row): string[] {
  const notes: string[] = [];
  if (row.tally?.duplicatesByDelivery) {
    const causes = duplicateCauses(prefix, load);
    notes.push(
      `delivery duplicates: ${causes.unread} after a 250 the dying sender never read, ${causes.diedAfter} after a 250 it read and died within 1 s of (before recording the outcome), ` +
        `${causes.unexplained.length} unexplained${causes.unexplained.length ? `: ${causes.unexplained.slice(0, 5).join(' ')}` : ''}`,
    );
  }
  return [...notes, ...loadNotes(load)];
}

function loadNotes(load: LoadResult): string[] {
  const notes = [`sent in ${load.seconds.toFixed(0)} s`, `client retries ${load.retries} (${load.retriesAfter451} after 451)`];
  if (load.refused) notes.push(`${load.refused} refused (5xx)`);
  if (load.givenUp) notes.push(`${load.givenUp} given up after 60 tries`);
  return notes;
}

/** Runs `fn`; an exception is a failed row. Afterwards everything killed is started again. */
async function drill(name: string, fn: (row: Row) => Promise<void>): Promise<Row> {
  const row: Row = { drill: name, notes: [], failed: false };
  progress(`---- ${name}`);
  const started = Date.now();
  try {
    // both ingress servers UP in HAProxy's eyes before anything is broken
    const ready = await until(async () => [...(await cluster.haproxyStates()).values()].filter((s) => s === 2).length === 2, 30000);
    if (ready === undefined) throw new Error(`HAProxy does not see both ingress servers UP: ${[...(await cluster.haproxyStates())].join(' ')}`);
    await fn(row);
  } catch (error) {
    row.failed = true;
    row.notes.push(`ERROR: ${(error as Error).message.split('\n')[0]}`);
    progress(`${name}: ${(error as Error).stack ?? error}`);
  }
  const missing = ALL.filter((name) => !cluster.alive(name));
  if (missing.length) {
    progress(`restoring ${missing.join(' ')}`);
    await cluster.up([]);
  }
  progress(`${name}: ${secs(Date.now() - started)} s; ${row.notes.join('; ')}`);
  return row;
}

function check(row: Row, ok: boolean, failure: string): void {
  if (!ok) {
    row.failed = true;
    row.notes.push(`FAILED: ${failure}`);
  }
}

/** Waits until `ready` holds (polling every 100 ms) or `timeoutMs`; milliseconds taken, or undefined. */
async function until(ready: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await ready()) return Date.now() - started;
    await sleep(100);
  }
  return undefined;
}

// ---- (a) kill -9 of a RabbitMQ node --------------------------------------------------------------
/** rabbitmqctl on rabbit-1 (env.sh's ctl), its output; '' when it fails. */
async function rabbitctl(args: string): Promise<string> {
  const run = await new Promise<{ code: number; out: string }>((resolvePromise) => {
    const child = spawn('bash', ['-c', `source ${JSON.stringify(join(CLUSTER_DIR, 'env.sh'))} && ctl 1 ${args}`], {
      env: { ...process.env, ...cluster.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolvePromise({ code: code ?? 1, out }));
  });
  return run.code === 0 ? run.out : '';
}

async function rabbitDrill(row: Row): Promise<void> {
  const prefix = `${runId}a`;
  // the node leading the outbox's quorum queue (after a fresh up.sh rabbit-1, which also holds every
  // process's connections: the first rabbitmq-address), or DRILL_RABBIT
  const leaders = await rabbitctl('list_queues --quiet --no-table-headers name leader');
  const leader = /^outbox\s+mtaq-\S+?-(\d)@/m.exec(leaders)?.[1];
  const victim = process.env['DRILL_RABBIT'] ?? `rabbit-${leader ?? 1}`;
  const n = Number(victim.slice('rabbit-'.length));
  const ports = (await rabbitctl('list_connections --quiet --no-table-headers port')).split('\n').filter((l) => l.trim());
  const onVictim = ports.filter((port) => Number(port) === Number(cluster.env['CLUSTER_AMQP_PORT'] ?? 5701) + n - 1).length;
  row.notes.push(`outbox's leader: ${leader ? `rabbit-${leader}` : 'unknown'}; ${onVictim} of ${ports.length} client connections on ${victim}`);
  let kill: Promise<void> | undefined;
  let backAfter = 0;
  const load = await sendLoad({
    port: cluster.smtpPort,
    total: MESSAGES,
    prefix,
    onAccepted: (accepted) => {
      if (accepted !== Math.floor(MESSAGES / 2) || kill) return;
      kill = (async () => {
        await cluster.kill9(victim);
        const killed = Date.now();
        await sleep(10000);
        await cluster.up([victim]);
        backAfter = Date.now() - killed;
      })();
    },
  });
  await kill;
  await settle(load, sink, 15 * 60000, 5000);
  row.tally = tally(load, sink, prefix);
  row.notes.push(`${victim} killed at ${Math.floor(MESSAGES / 2)} accepted, up again ${secs(backAfter)} s later`, ...endNotes(prefix, load, row));
  check(row, kill !== undefined, `${victim} was not killed`);
}

// ---- (b) kill -9 of an ingress node --------------------------------------------------------------
async function ingressDrill(row: Row): Promise<void> {
  const prefix = `${runId}b`;
  const victim = 'ingress-1';
  let kill: Promise<void> | undefined;
  let markedDown: number | undefined;
  let markedUp: number | undefined;
  let restartMs = 0;
  const load = await sendLoad({
    port: cluster.smtpPort,
    total: SMALL,
    prefix,
    onAccepted: (accepted) => {
      if (accepted !== Math.floor(SMALL / 3) || kill) return;
      kill = (async () => {
        const before = await cluster.haproxyStates();
        if (before.get(victim) !== 2) throw new Error(`${victim} not UP in HAProxy before the kill: ${[...before].join(' ')}`);
        const killed = Date.now();
        await cluster.kill9(victim);
        const down = await until(async () => (await cluster.haproxyStates()).get(victim) !== 2, 30000);
        if (down !== undefined) markedDown = Date.now() - killed;
        // down a while longer, so the clients meet the gap
        await sleep(5000);
        const restarted = Date.now();
        await cluster.script('up.sh', [victim]).then((run) => {
          if (run.code !== 0) throw new Error(`up.sh ${victim} failed:\n${run.output.slice(-2000)}`);
        });
        markedUp = await until(async () => (await cluster.haproxyStates()).get(victim) === 2, 30000);
        restartMs = Date.now() - restarted;
      })();
    },
  });
  await kill;
  await settle(load, sink, 10 * 60000, 5000);
  row.tally = tally(load, sink, prefix);
  row.notes.push(
    markedDown === undefined ? 'HAProxy did not mark it down within 30 s' : `HAProxy marked ${victim} down ${secs(markedDown)} s after the kill (check inter 1s, fall 2)`,
    `UP again ${secs(restartMs)} s after its restart`,
    ...endNotes(prefix, load, row),
  );
  check(row, markedDown !== undefined && markedDown <= 4000, `HAProxy took longer than 2 check intervals + 2 s`);
  check(row, markedUp !== undefined, `${victim} not UP in HAProxy after its restart`);
  check(row, load.givenUp + load.refused === 0, 'clients that retried did not all succeed');
}

// ---- (c) kill -9 of a delivery node --------------------------------------------------------------
async function deliveryDrill(row: Row): Promise<void> {
  const prefix = `${runId}c`;
  const victim = 'delivery-1';
  // every 5th message is tied to delivery-1's IPs: alternately its pool and one of its addresses
  const tiedBy = (n: number): 'pool' | 'ip' | undefined => (n % 5 !== 0 ? undefined : (n / 5) % 2 === 0 ? 'pool' : 'ip');
  const headers = (n: number): string[] => {
    const tie = tiedBy(n);
    return tie === 'pool' ? ['x-mq-pool: node1'] : tie === 'ip' ? ['x-mq-ip: 127.0.1.2'] : [];
  };
  const tieOf = (token: string): 'pool' | 'ip' | undefined => tiedBy(Number(token.slice(prefix.length + 1)));
  let killedAt = 0;
  let kill: Promise<void> | undefined;
  const atKill = new Map<string, number>();
  // tied tokens sent so far (any of them may have been accepted)
  const load_tied = (): string[] => Array.from({ length: SMALL }, (_, n) => n).filter((n) => tiedBy(n)).map((n) => `${prefix}-${n}`);
  const load = await sendLoad({
    port: cluster.smtpPort,
    total: SMALL,
    prefix,
    headers,
    onAccepted: (accepted) => {
      if (accepted !== Math.floor(SMALL / 3) || kill) return;
      kill = cluster.kill9(victim).then(() => {
        killedAt = Date.now();
        // arrivals so far (a transaction of the dead node still in the sink's buffers a moment later)
        setTimeout(() => {
          for (const t of load_tied()) atKill.set(t, sink.tokens.get(t)?.arrivals ?? 0);
        }, 1000);
      });
    },
  });
  await kill;
  check(row, killedAt > 0, `${victim} was not killed`);
  const accepted = [...load.accepted];
  const untied = accepted.filter((t) => !tieOf(t));
  const tied = accepted.filter((t) => tieOf(t));
  const arrived = (t: string): boolean => (sink.tokens.get(t)?.arrivals ?? 0) > 0;
  // mail free to leave from any IP: all of it through delivery-2 while delivery-1 is down; down at
  // least 25 s, past the 15 s after which delivery-2 takes the silent node for down
  const untiedMs = await until(() => untied.every(arrived), 10 * 60000);
  await sleep(Math.max(0, 25000 - (Date.now() - killedAt)));
  const downMs = Date.now() - killedAt;
  const untiedWhileDown = untied.filter(arrived).length;
  const tiedBefore = new Map(tied.map((t) => [t, sink.tokens.get(t)?.sources.slice() ?? []]));
  // tied mail that arrived while its owner was dead (from 1 s after the kill): nobody may send it
  const sentWhileDown = tied.filter((t) => (sink.tokens.get(t)?.arrivals ?? 0) > (atKill.get(t) ?? 0));
  const waiting = tied.filter((t) => !tiedBefore.get(t)!.length);
  const untiedLate = untied.filter((t) => !arrived(t));
  progress(`${victim} down ${secs(downMs)} s: ${untiedWhileDown}/${untied.length} untied delivered, ${waiting.length}/${tied.length} tied waiting`);
  const restarted = Date.now();
  await cluster.up([victim]);
  await settle(load, sink, 10 * 60000, 5000);
  row.tally = tally(load, sink, prefix);

  // where each message left from
  const allowed = (token: string): string[] => (tieOf(token) === 'ip' ? ['127.0.1.2'] : tieOf(token) === 'pool' ? NODE1_IPS : []);
  const wrongTied = tied.filter((t) => (sink.tokens.get(t)?.sources ?? []).some((ip) => !allowed(t).includes(ip)));
  const waitedThenSent = waiting.filter(arrived);
  const fromOther = untied.filter((t) => (sink.tokens.get(t)?.sources ?? []).some((ip) => ip.startsWith('127.0.2.')));
  const tiedBeforeKill = [...atKill.values()].filter((n) => n > 0).length;
  row.notes.push(
    `${victim} killed at ${Math.floor(SMALL / 3)} accepted, down ${secs(downMs)} s`,
    `any-IP mail: ${untiedWhileDown}/${untied.length} delivered while it was down (${untiedMs === undefined ? 'NOT all' : `all ${secs(untiedMs)} s after the run`}), ${fromOther.length} of them from 127.0.2.x`,
    `tied to node1 (${tied.filter((t) => tieOf(t) === 'pool').length} pool, ${tied.filter((t) => tieOf(t) === 'ip').length} ip): ${tiedBeforeKill} sent before the kill, ${sentWhileDown.length} while it was down, ${waiting.length} waited, ${waitedThenSent.length} sent after the restart (settled ${secs(Date.now() - restarted - 5000)} s after it), ${wrongTied.length} from a wrong IP`,
    ...endNotes(prefix, load, row),
  );
  check(row, sentWhileDown.length === 0, `${sentWhileDown.length} tied messages sent while their node was dead`);
  check(row, untiedLate.length === 0, `${untiedLate.length} any-IP messages waited for ${victim}`);
  check(row, wrongTied.length === 0, `${wrongTied.length} tied messages left from another IP (e.g. ${wrongTied[0]}: ${sink.tokens.get(wrongTied[0] ?? '')?.sources.join(',')})`);
  check(row, waiting.length > 0, 'no tied message was left waiting for the dead node (the drill proved nothing)');
}

// ---- (d) kill -9 of Redis ------------------------------------------------------------------------
/** What delivery-1/2 logged since `from` (byte offsets of their logs). */
function logSince(from: Map<string, number>): string {
  let text = '';
  for (const [name, offset] of from) {
    try {
      text += readFileSync(join(cluster.runDir, `${name}.log`)).subarray(offset).toString();
    } catch {
      // no log
    }
  }
  return text;
}

function logOffsets(names: string[]): Map<string, number> {
  return new Map(names.map((name) => [name, existsSync(join(cluster.runDir, `${name}.log`)) ? statSync(join(cluster.runDir, `${name}.log`)).size : 0]));
}

async function redisDrill(row: Row): Promise<void> {
  const prefix = `${runId}d`;
  const offsets = logOffsets(['delivery-1', 'delivery-2']);
  sink.maxConcurrent = sink.concurrent;
  let kill: Promise<void> | undefined;
  let backAfter = 0;
  let before = 0;
  let during = 0;
  const load = await sendLoad({
    port: cluster.smtpPort,
    total: SMALL,
    prefix,
    onAccepted: (accepted) => {
      if (accepted !== Math.floor(SMALL / 3) || kill) return;
      kill = (async () => {
        await cluster.kill9('redis');
        const killed = Date.now();
        before = sink.maxConcurrent;
        sink.maxConcurrent = sink.concurrent;
        await sleep(5000);
        await cluster.up(['redis']);
        during = sink.maxConcurrent;
        sink.maxConcurrent = sink.concurrent;
        backAfter = Date.now() - killed;
      })();
    },
  });
  await kill;
  await settle(load, sink, 10 * 60000, 5000);
  row.tally = tally(load, sink, prefix);
  const logged = logSince(offsets);
  const fellBack = (logged.match(/Redis unreachable: connection and message limits now use this process's share/g) ?? []).length;
  const back = (logged.match(/Redis is back: connection and message limits are shared/g) ?? []).length;
  row.notes.push(
    `redis killed at ${Math.floor(SMALL / 3)} accepted, up again ${secs(backAfter)} s later (empty)`,
    `delivery logged ${fellBack}× "limits now use this process's share", ${back}× "Redis is back"`,
    `sink sessions at once at most ${before} before, ${during} while Redis was down, ${sink.maxConcurrent} after (caps: * * connections=20 per source IP and domain, shared through Redis, 20/2 per process without it; smtp-connections-out 20 per node)`,
    ...endNotes(prefix, load, row),
  );
  check(row, fellBack > 0, 'no delivery process said it fell back to its local share');
}

// ---- (e) the whole cluster restarted with mail queued --------------------------------------------
async function restartDrill(row: Row): Promise<void> {
  const prefix = `${runId}e`;
  await cluster.stop('delivery-1');
  await cluster.stop('delivery-2');
  const load = await sendLoad({ port: cluster.smtpPort, total: QUEUED, prefix });
  await sleep(2000);
  const early = prefixTokens(prefix).filter(([, r]) => r.arrivals > 0).length;
  check(row, early === 0, `${early} delivered while delivery was stopped`);
  // RabbitMQ's queue counts lag a few seconds behind
  let queued = '?';
  await until(async () => {
    queued = /^outbox\s+(\d+)/m.exec(await rabbitctl('list_queues --quiet --no-table-headers name messages'))?.[1] ?? '?';
    return Number(queued) >= load.accepted.size;
  }, 20000);
  const down = await cluster.down(false);
  check(row, down.code === 0, `down.sh failed (${down.code})`);
  const stillAlive = ALL.filter((name) => cluster.alive(name));
  check(row, stillAlive.length === 0, `still running after down.sh: ${stillAlive.join(' ')}`);
  const upStarted = Date.now();
  const up = await cluster.up([]);
  await until(() => [...load.accepted].every((t) => (sink.tokens.get(t)?.arrivals ?? 0) > 0), 10 * 60000);
  const allIn = Date.now() - upStarted;
  await settle(load, sink, 10 * 60000, 5000);
  row.tally = tally(load, sink, prefix);
  row.notes.push(
    `${load.accepted.size} accepted with delivery stopped (outbox: ${queued} messages), ${early} delivered before the restart`,
    `down.sh ${secs(down.ms)} s, up.sh ${secs(up.ms)} s, all delivered ${secs(allIn)} s after up.sh began`,
    ...endNotes(prefix, load, row),
  );
}

// ---- main ----------------------------------------------------------------------------------------
const wasUp = ALL.every((name) => cluster.alive(name));
progress(`cluster ${wasUp ? 'up' : 'not (fully) up'}; sink on 127.0.0.1:${sink.port}; ${MESSAGES} messages in (a), ${SMALL} in (b)-(d), ${QUEUED} in (e); tokens ${runId}*`);
// delivery relays to the sink: (re)started with CLUSTER_SMARTHOST; up.sh starts whatever is missing
await cluster.stop('delivery-1');
await cluster.stop('delivery-2');
await cluster.up([]);

const rows: Row[] = [];
const only = process.env['DRILLS']?.split(',');
const drills: Array<[string, string, (row: Row) => Promise<void>]> = [
  ['a', '(a) kill -9 a RabbitMQ node (restarted after 10 s)', rabbitDrill],
  ['b', '(b) kill -9 ingress-1', ingressDrill],
  ['c', '(c) kill -9 delivery-1', deliveryDrill],
  ['d', '(d) kill -9 redis (restarted after 5 s)', redisDrill],
  ['e', '(e) whole cluster restarted, mail queued', restartDrill],
];
for (const [key, name, fn] of drills) if (!only || only.includes(key)) rows.push(await drill(name, fn));

if (wasUp) {
  // as it was: delivery relaying where it did before
  await cluster.stop('delivery-1');
  await cluster.stop('delivery-2');
  await cluster.up(['delivery-1', 'delivery-2'], { CLUSTER_SMARTHOST: originalSmarthost });
} else {
  await cluster.down(false);
}
await sink.close();

const cell = (s: string | number): string => String(s).replace(/\|/g, '\\|');
const lines = [
  '| drill | accepted | delivered | lost | dup (delivery) | dup (client retry) | notes |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...rows.map((r) => {
    const t = r.tally;
    return `| ${cell(r.drill)} | ${t?.accepted ?? '-'} | ${t?.delivered ?? '-'} | ${t?.lost ?? '-'} | ${t?.duplicatesByDelivery ?? '-'} | ${t?.duplicatesByClientRetry ?? '-'} | ${cell(r.notes.join('; '))} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
for (const r of rows) if (r.tally?.lost) progress(`${r.drill}: lost ${r.tally.lost}, e.g. ${r.tally.lostTokens.slice(0, 5).join(' ')}`);
if (sink.anonymous) progress(`${sink.anonymous} arrivals without a drill token (mail queued in the cluster before)`);
process.exit(rows.some((r) => (r.tally?.lost ?? 0) > 0 || r.failed) ? 1 : 0);
