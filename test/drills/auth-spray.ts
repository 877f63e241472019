/**
 * AUTH password-spray drill (build first: it runs apps/cli/dist). One ingress with the per-account
 * delay off, one with it on (default smtp-auth-delay 1 s doubling to smtp-auth-delay-max 30 s);
 * each sprayed from `--addresses` loopback source addresses, `--attempts` wrong passwords each, one
 * connection per address, for `--budget` seconds; the real user logs in from another address a
 * second into the spray. Progress to stderr, the markdown table to stdout.
 *
 *   node --import tsx test/drills/auth-spray.ts [--addresses 91] [--attempts 5] [--budget 35]
 *
 * Uses a private redis-server (so the counters are the shared Redis ones) and the local RabbitMQ.
 */

import { loopbackAddresses, realLogin, spray, type SprayResult } from '../helpers/auth-spray.js';
import { freePort } from '../helpers/ports.js';
import { startMtaq, writeConfig } from '../helpers/process.js';
import { privateRedis } from '../helpers/redis.js';

function option(name: string, fallback: number): number {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return Number(i >= 0 ? args[i + 1] : fallback);
}

const addresses = option('addresses', 91);
const attempts = option('attempts', 5);
const budgetMs = option('budget', 35) * 1000;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

interface Row {
  mode: string;
  result: SprayResult;
  real: { code: number; ms: number };
}

const redis = await privateRedis();
const rows: Row[] = [];
try {
  for (const [mode, lines] of [
    ['no per-account delay (smtp-auth-delay: 0, the old behaviour)', ['smtp-auth-delay: 0']],
    ['per-account delay (defaults: 1 s doubling, cap 30 s)', []],
  ] as const) {
    const port = await freePort();
    const config = writeConfig(
      [
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${port}`,
        'rabbitmq-inbox: drill-auth-spray',
        'smtp-auth: hardcoded://alice:the-real-password',
        'smtp-auth-insecure: true',
        `redis-address: ${redis.url}`,
        ...lines,
      ].join('\n'),
    );
    const mtaq = await startMtaq('ingress', ['--config-file', config]);
    try {
      log(`${mode}: spraying ${addresses} addresses × ${attempts} passwords for up to ${budgetMs / 1000} s`);
      const base = 60 + rows.length * 2;
      const attack = spray({ port, addresses: loopbackAddresses(addresses, base), attempts, user: 'alice', budgetMs });
      await new Promise((r) => setTimeout(r, 1000));
      const real = await realLogin(port, '127.0.0.254', 'alice', 'the-real-password');
      const result = await attack;
      log(`  ${result.checks} checks in ${(result.elapsedMs / 1000).toFixed(1)} s; real user ${real.code} after ${real.ms} ms`);
      rows.push({ mode, result, real });
    } finally {
      await mtaq.stop();
    }
  }
} finally {
  await redis.stop();
}

const table = [
  '| ingress | addresses × passwords | passwords checked | 454 (per-address throttle) | seconds | checks/s | real user (code, wait) |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    ({ mode, result, real }) =>
      `| ${mode} | ${addresses} × ${attempts} | ${result.checks} | ${result.throttled} | ${(result.elapsedMs / 1000).toFixed(2)} | ${result.perSecond.toFixed(1)} | ${real.code}, ${(real.ms / 1000).toFixed(1)} s |`,
  ),
];
process.stdout.write(`\n${table.join('\n')}\n`);
