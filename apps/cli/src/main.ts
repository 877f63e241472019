#!/usr/bin/env node
import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config, type LoadResult } from '@mtaq/config';
import { createLogger, type Logger } from '@mtaq/log';
import { BrokerLoginError, QueueMismatchError } from '@mtaq/queue';
import { describeBrokerError } from './broker-errors.js';
import { EX_CONFIG, EX_TEMPFAIL, EX_USAGE } from './exit-codes.js';
import { limitHeapGrowth } from './heap-growth.js';
import { acquireLock, LockError, type Lock } from './lock-file.js';
import { dropPrivileges, type WrittenPath } from './privileges.js';
import { stopOnSignal } from './lifecycle.js';
import { startProcessHttp, wwwProblem } from './http.js';
import { commandUsage, hasCommandHelp, INJECT_OPTIONS, USAGE } from './usage.js';

// Each command loads its app when it runs (`await import`), not here: `mtaq delivery` never loads
// the ingress (smtp-server, mailparser, mailauth's checks) and the ingress never loads delivery.

type Command = (loaded: LoadResult, words: string[]) => Promise<number> | number;

/** Options of a command that are not config keys. */
const COMMAND_OPTIONS: Record<string, string[]> = { cluster: ['--json'], queue: ['--count'], password: ['--hash'], config: ['--strict'], inject: INJECT_OPTIONS };

/** Starts services, stops them on SIGTERM/SIGINT; a start failure exits non-zero with the reason. */
async function serve(
  loaded: LoadResult,
  name: string,
  start: (config: Config, logger: Logger) => Promise<(() => Promise<void>) | undefined>,
  writes: (config: Config) => WrittenPath[] = () => [],
): Promise<number> {
  const config = loaded.config;
  // a non-loopback www-ip without www-token: one line, exit 78, before anything starts
  const problem = await wwwProblem(config);
  if (problem !== undefined) {
    process.stderr.write(`mtaq: ${problem}\n`);
    return EX_CONFIG;
  }
  const logger = createLogger({ level: config['log-level'], name });
  limitHeapGrowth();
  // which files were read is the first thing to check when a setting seems to have no effect;
  // ingress workers (smtp-threads) load the same files, so only the primary says it
  if (cluster.isPrimary) logger.info({ files: loaded.files }, 'configuration loaded');
  let lock: Lock | undefined;
  if (cluster.isPrimary && config.lock !== '') {
    try {
      lock = acquireLock(config.lock);
    } catch (err) {
      process.stderr.write(`mtaq: ${(err as Error).message}\n`);
      return err instanceof LockError ? EX_TEMPFAIL : EX_CONFIG;
    }
    process.on('exit', () => lock?.release());
  }
  let stop: (() => Promise<void>) | undefined;
  try {
    stop = await start(config, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${name} failed to start`);
    logger.flush();
    if (err instanceof BrokerLoginError) {
      // a wrong user or password in rabbitmq-address: one line naming the key, password masked
      const failure = describeBrokerError(err.cause, err.url, '');
      process.stderr.write(`mtaq: ${failure?.message ?? err.message}\n`);
      return EX_CONFIG;
    }
    if (err instanceof QueueMismatchError) {
      // e.g. a classic queue under rabbitmq-quorum: one line saying how to migrate it
      process.stderr.write(`mtaq: ${err.message}\n`);
      return EX_CONFIG;
    }
    return 1;
  }
  try {
    // the ports are bound: root is no longer needed
    const account = dropPrivileges(config.user, writes(config), lock ? [lock.path] : [], config.group);
    if (account) logger.info({ user: config.user, uid: account.uid, gid: account.gid }, 'running as an unprivileged user');
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${name} cannot run as user ${config.user}`);
    process.stderr.write(`mtaq: ${(err as Error).message}\n`);
    await stop?.().catch(() => undefined);
    logger.flush();
    return EX_CONFIG;
  }
  if (stop) stopOnSignal(logger, stop);
  return -1; // keeps running until a signal
}

/** What delivery writes: the folder, unless it only relays over SMTP. */
const deliveryWrites = (config: Config): WrittenPath[] =>
  config['delivery-method'] === 'smtp' ? [] : [{ key: 'delivery-folder', path: config['delivery-folder'], folder: true }];

/** What the ingress writes: the spool directories, when spool-directory is set. */
const ingressWrites = (config: Config): WrittenPath[] =>
  config['spool-directory'] === ''
    ? []
    : [
        { key: 'spool-directory', path: config['spool-directory'], folder: true },
        ...(config['spool-fail-directory'] ? [{ key: 'spool-fail-directory', path: config['spool-fail-directory'], folder: true }] : []),
      ];

const commands: Record<string, Command> = {
  ingress: (loaded) =>
    serve(
      loaded,
      'mtaq-ingress',
      async (config, logger) => {
        const { runIngress } = await import('@mtaq/ingress');
        const http = await startProcessHttp(config, logger);
        const running = await runIngress(config, logger, { metrics: http?.metrics }).catch(async (err: unknown) => {
          await http?.close();
          throw err;
        });
        if (running) http?.ingress(running);
        else http?.www.readiness('ingress', () => true); // smtp-threads: the workers take SMTP
        if (!running) return http ? () => http.close() : undefined;
        return async () => {
          await running.stop();
          await http?.close();
        };
      },
      ingressWrites,
    ),
  delivery: (loaded) =>
    serve(
      loaded,
      'mtaq-delivery',
      async (config, logger) => {
        const { startDelivery } = await import('@mtaq/delivery');
        const http = await startProcessHttp(config, logger);
        const running = await startDelivery(config, logger, { metrics: http?.metrics }).catch(async (err: unknown) => {
          await http?.close();
          throw err;
        });
        http?.delivery(running);
        return async () => {
          await running.stop();
          await http?.close();
        };
      },
      deliveryWrites,
    ),
  pipeline: (loaded) =>
    serve(loaded, 'mtaq', async (config, logger) => {
      // one HTTP server for both; delivery first: mail accepted by the ingress is picked up as soon as it is queued
      const [{ startDelivery }, { startIngress }] = await Promise.all([import('@mtaq/delivery'), import('@mtaq/ingress')]);
      const http = await startProcessHttp(config, logger);
      const metrics = http?.metrics;
      const delivery = await startDelivery(config, logger.child({ app: 'delivery' }), { metrics }).catch(async (err: unknown) => {
        await http?.close();
        throw err;
      });
      const ingress = await startIngress(config, logger.child({ app: 'ingress' }), { metrics }).catch(async (err: unknown) => {
        await delivery.stop();
        await http?.close();
        throw err;
      });
      http?.delivery(delivery);
      http?.ingress(ingress);
      return async () => {
        await ingress.stop();
        await delivery.stop();
        await http?.close();
      };
    }, (config) => [...deliveryWrites(config), ...ingressWrites(config)]),
  worker: async (loaded) => {
    // a worker reading its own output, or a script that cannot load: one line, exit 78
    const { loadScript, startWorker, WorkerConfigError, workerQueues } = await import('@mtaq/worker');
    let script;
    try {
      workerQueues(loaded.config);
      script = await loadScript(loaded.config['worker-script']);
    } catch (err) {
      if (!(err instanceof WorkerConfigError)) throw err;
      process.stderr.write(`mtaq: ${err.message}\n`);
      return EX_CONFIG;
    }
    return serve(loaded, 'mtaq-worker', async (config, logger) => {
      const running = await startWorker(config, logger, script);
      return () => running.stop();
    });
  },
  config: async (loaded, words) => (await import('./config-command.js')).configCommand(loaded, words),
  password: async (_loaded, words) => (await import('./password.js')).passwordCommand(words),
  queue: async (loaded, words) => (await import('./queue-command.js')).queueCommand(loaded.config, words),
  cluster: async (loaded, words) => (await import('./cluster-command.js')).clusterCommand(loaded.config, words),
  inject: async (loaded, words) => (await import('./inject-command.js')).injectCommand(loaded.config, words),
};

async function main(input: string[]): Promise<number> {
  // MailerQ's `--list-cluster` is `mtaq cluster list`
  const argv = input.includes('--list-cluster') ? ['cluster', 'list', ...input.filter((word) => word !== '--list-cluster')] : input;
  const [name, ...words] = argv;
  // `mtaq worker --script FILE` is --worker-script FILE
  const args = name === 'worker' ? words.map((word) => (word === '--script' ? '--worker-script' : word)) : words;
  if (name === undefined) {
    process.stdout.write(USAGE);
    return EX_USAGE;
  }
  if (name === 'help' || argv.includes('--help') || argv.includes('-h')) {
    // help needs no configuration, so it works even while the config file is broken
    const topic = name === 'help' ? args[0] : name;
    process.stdout.write(topic !== undefined && hasCommandHelp(topic) ? commandUsage(topic) : USAGE);
    return 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write('mtaq 0.1.0\n');
    return 0;
  }
  // needs no configuration: its options are its own, not config keys
  if (name === 'dkim') return (await import('./dkim-command.js')).dkimCommand(words);
  const command = commands[name];
  if (!command) {
    process.stderr.write(`mtaq: unknown command "${name}"\n\n${USAGE}`);
    return EX_USAGE;
  }
  let loaded: LoadResult;
  try {
    loaded = loadConfig({ argv: args, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mtaq: configuration error\n${err.message}\n`);
      return EX_CONFIG;
    }
    throw err;
  }
  // strict mode: a setting that does nothing, or a typo, must not go unnoticed in production
  const strict = name === 'config' && loaded.rest.includes('--strict') ? '--strict' : loaded.config['config-strict'] ? 'config-strict' : undefined;
  if (strict !== undefined && loaded.warnings.length > 0) {
    const messages = loaded.warnings.map((warning) => warning.message).join('\n');
    process.stderr.write(`mtaq: configuration error (${strict}: warnings count as errors)\n${messages}\n`);
    return EX_CONFIG;
  }
  for (const warning of loaded.warnings) process.stderr.write(`mtaq: warning: ${warning.message}\n`);
  const allowed = COMMAND_OPTIONS[name] ?? [];
  const unknownOptions = loaded.rest.filter((word) => word.startsWith('-') && !allowed.includes(word));
  if (unknownOptions.length) {
    process.stderr.write(`mtaq: unknown option ${unknownOptions.join(', ')} (see mtaq ${name} --help)\n`);
    return EX_USAGE;
  }
  return command(loaded, loaded.rest);
}

/** An unexpected failure is one line for the operator; MTAQ_DEBUG=1 brings the stack trace back. */
function reportCrash(err: unknown): void {
  if (process.env['MTAQ_DEBUG'] === '1') {
    process.stderr.write(`mtaq: ${(err instanceof Error ? err.stack : undefined) ?? String(err)}\n`);
    return;
  }
  const text = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
  process.stderr.write(`mtaq: ${text || 'unexpected failure'} (MTAQ_DEBUG=1 shows where)\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code < 0) return;
    process.exitCode = code;
    // a cluster worker is kept alive by its IPC channel; let go of it so a failed start exits
    if (cluster.isWorker) process.disconnect?.();
  },
  (err: unknown) => {
    reportCrash(err);
    process.exitCode = 1;
  },
);
