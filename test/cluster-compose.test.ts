/**
 * deploy/cluster/compose.yml, the cluster's topology as a compose file, checked without an engine
 * (none runs here): Debian's docker-compose validates and resolves it, every mtaq node's config
 * files pass `mtaq config check --strict` with the secrets the compose file passes in the
 * environment, and HAProxy accepts its config.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');
const DIR = join(ROOT, 'deploy', 'cluster');
const SECRETS = {
  RABBITMQ_ERLANG_COOKIE: 'cookie-for-the-test',
  RABBITMQ_PASSWORD: 'rabbit-password',
  POSTGRES_PASSWORD: 'postgres-password',
  MTAQ_WWW_TOKEN: 'www-token-for-the-test',
};

function compose(args: string[], env: Record<string, string> = SECRETS): { status: number; stdout: string; stderr: string } {
  // only PATH from our environment: a secret set in the caller's shell must not make the test pass
  const run = spawnSync('docker-compose', ['-f', join(DIR, 'compose.yml'), ...args], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
  if (run.error) throw run.error;
  return { status: run.status ?? 1, stdout: run.stdout, stderr: run.stderr };
}

describe('deploy/cluster/compose.yml', () => {
  test('docker-compose config accepts it and lists the layout of up.sh', () => {
    const check = compose(['config', '-q']);
    assert.equal(check.status, 0, check.stderr);
    const services = compose(['config', '--services']).stdout.trim().split('\n').sort();
    assert.deepEqual(services, ['delivery-1', 'delivery-2', 'haproxy', 'ingress-1', 'ingress-2', 'postgres', 'rabbit-1', 'rabbit-2', 'rabbit-3', 'redis']);
    const resolved = compose(['config']).stdout;
    // the secrets reach the mtaq nodes through the environment, all three brokers named
    assert.match(resolved, /MTAQ_RABBITMQ_ADDRESS: amqp:\/\/mtaq:rabbit-password@rabbit-1:5672\/,amqp:\/\/mtaq:rabbit-password@rabbit-2:5672\/,amqp:\/\/mtaq:rabbit-password@rabbit-3:5672\//);
  });

  test('without its secrets it refuses to resolve, naming the variable (no default password)', () => {
    const { RABBITMQ_PASSWORD: _omitted, ...rest } = SECRETS;
    const check = compose(['config', '-q'], rest);
    assert.notEqual(check.status, 0);
    assert.match(check.stderr, /RABBITMQ_PASSWORD/);
  });

  for (const node of ['ingress-1', 'ingress-2', 'delivery-1', 'delivery-2']) {
    test(`${node}: its config files pass mtaq config check --strict with the environment compose gives it`, () => {
      const env = {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        MTAQ_RABBITMQ_ADDRESS: 'amqp://mtaq:p@rabbit-1:5672/,amqp://mtaq:p@rabbit-2:5672/,amqp://mtaq:p@rabbit-3:5672/',
        MTAQ_DATABASE_ADDRESS: 'postgresql://mtaq:p@postgres:5432/mtaq',
        MTAQ_WWW_TOKEN: SECRETS.MTAQ_WWW_TOKEN,
        MTAQ_REDIS_ADDRESS: 'redis://redis:6379',
      };
      const args = ['config', 'check', '--strict'];
      for (const file of ['mtaq.conf', 'compose/common.conf', `compose/${node}.conf`]) args.push('--config-file', join(DIR, file));
      const run = spawnSync(process.execPath, [join(ROOT, 'apps/cli/dist/main.js'), ...args], { cwd: DIR, env, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.doesNotMatch(run.stdout, /www-token-for-the-test|mtaq:p@/, 'secrets are masked');
      const n = node.slice(-1);
      const ip = node.startsWith('ingress') ? `172.28.0.1${n}` : `172.28.0.4${n}`;
      assert.match(run.stdout, new RegExp(`^www-ip: +${ip.replace(/\./g, '\\.')}$`, 'm'));
    });
  }

  test('docker-compose.yml (the quick-start pipeline in containers) resolves too, from the same Dockerfile', () => {
    const run = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config'], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      encoding: 'utf8',
    });
    if (run.error) throw run.error;
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`context: ${ROOT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n`));
    assert.match(compose(['config']).stdout, new RegExp(`context: ${ROOT.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n`));
  });

  test("HAProxy accepts the compose front's config", () => {
    const haproxy = spawnSync('haproxy', ['-c', '-q', '-f', join(DIR, 'compose', 'haproxy.cfg')], {
      env: { PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` },
      encoding: 'utf8',
    });
    if (haproxy.error) throw haproxy.error;
    assert.equal(haproxy.status, 0, haproxy.stderr);
  });
});
