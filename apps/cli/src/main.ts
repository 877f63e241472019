#!/usr/bin/env node
import cluster from 'node:cluster';
import { ConfigError, formatConfig, keyInfo, loadConfig, type Config } from '@mtaq/config';
import { startDelivery } from '@mtaq/delivery';
import { runIngress, startIngress } from '@mtaq/ingress';
import { createLogger, type Logger } from '@mtaq/log';
import { peekQueue } from '@mtaq/queue';
import { stopOnSignal } from './lifecycle.js';
import { passwordCommand } from './password.js';

const USAGE = `mtaq — a queue-backed mail transfer agent around RabbitMQ

Usage:
  mtaq pipeline [--config-file FILE] [--<key> VALUE]...  run ingress and delivery in one process
  mtaq ingress [--config-file FILE] [--<key> VALUE]...   run the SMTP ingress (SMTP → inbox queue)
  mtaq delivery [--config-file FILE] [--<key> VALUE]...  run delivery (outbox queue → upstream or folder)
  mtaq config check [--config-file FILE] [--<key> VALUE]...
                                                       validate the configuration and print it (secrets masked)
  mtaq config keys                                     list every configuration key with its default
  mtaq queue peek [QUEUE] [--count N]                  print messages of a queue (default: the inbox)
                                                       as JSON lines, leaving them on the queue
  mtaq password [--hash bcrypt|sha512-crypt|sha256-crypt|sha256|sha384|sha512]
                                                       hash a password (prompt or stdin) for file:// or CSV users
  mtaq --help | --version

Configuration is read from, each overriding the one before: built-in defaults, /etc/mtaq/mtaq.conf,
the file named by --config-file (default ./etc/mtaq.conf), --<key> VALUE options, and MTAQ_<KEY>
environment variables (e.g. MTAQ_SMTP_PORT=2525). Every key can be given on the command line.
`;

type Command = (config: Config, words: string[]) => Promise<number> | number;

/** Options of a command that are not config keys. */
const COMMAND_OPTIONS: Record<string, string[]> = { queue: ['--count'], password: ['--hash'] };

/** Starts services, stops them on SIGTERM/SIGINT; a start failure exits non-zero with the reason. */
async function serve(config: Config, name: string, start: (logger: Logger) => Promise<(() => Promise<void>) | undefined>): Promise<number> {
  const logger = createLogger({ level: config['log-level'], name });
  try {
    const stop = await start(logger);
    if (stop) stopOnSignal(logger, stop);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, `${name} failed to start`);
    logger.flush();
    return 1;
  }
  return -1; // keeps running until a signal
}

const commands: Record<string, Command> = {
  ingress: (config) =>
    serve(config, 'mtaq-ingress', async (logger) => {
      const running = await runIngress(config, logger);
      return running ? () => running.stop() : undefined;
    }),
  delivery: (config) =>
    serve(config, 'mtaq-delivery', async (logger) => {
      const running = await startDelivery(config, logger);
      return () => running.stop();
    }),
  pipeline: (config) =>
    serve(config, 'mtaq', async (logger) => {
      // delivery first: mail accepted by the ingress is picked up as soon as it is queued
      const delivery = await startDelivery(config, logger.child({ app: 'delivery' }));
      const ingress = await startIngress(config, logger.child({ app: 'ingress' })).catch(async (err: unknown) => {
        await delivery.stop();
        throw err;
      });
      return async () => {
        await ingress.stop();
        await delivery.stop();
      };
    }),
  config: (config, words) => {
    const sub = words[0] ?? 'check';
    if (sub === 'check') {
      process.stdout.write(formatConfig(config));
      process.stderr.write('configuration is valid\n');
      return 0;
    }
    if (sub === 'keys') {
      for (const info of keyInfo) process.stdout.write(`${info.key.padEnd(32)} ${info.default.padEnd(36)} ${info.description}\n`);
      return 0;
    }
    process.stderr.write(`mtaq config: unknown subcommand "${sub}" (expected check or keys)\n`);
    return 2;
  },
  password: (_config, words) => passwordCommand(words),
  queue: async (config, words) => {
    const [sub, ...rest] = words;
    if (sub !== 'peek') {
      process.stderr.write(`mtaq queue: unknown subcommand "${sub ?? ''}" (expected peek)\n`);
      return 2;
    }
    const countAt = rest.indexOf('--count');
    const count = countAt >= 0 ? Number(rest.splice(countAt, 2)[1]) : 10;
    const queue = rest[0] ?? config['rabbitmq-inbox'];
    if (!Number.isInteger(count) || count < 1) {
      process.stderr.write('mtaq queue peek: --count needs a positive whole number\n');
      return 2;
    }
    const messages = await peekQueue(config['rabbitmq-address'][0]!, queue, count);
    for (const message of messages) process.stdout.write(`${JSON.stringify(message)}\n`);
    process.stderr.write(`${messages.length} message(s) on ${queue} shown, none removed\n`);
    return 0;
  },
};

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    process.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    process.stdout.write('mtaq 0.1.0\n');
    return 0;
  }
  const [name, ...args] = argv;
  const command = commands[name!];
  if (!command) {
    process.stderr.write(`mtaq: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ argv: args, env: process.env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mtaq: configuration error\n${err.message}\n`);
      return 78; // EX_CONFIG
    }
    throw err;
  }
  for (const warning of loaded.warnings) process.stderr.write(`mtaq: warning: ${warning.message}\n`);
  const allowed = COMMAND_OPTIONS[name!] ?? [];
  const unknownOptions = loaded.rest.filter((word) => word.startsWith('-') && !allowed.includes(word));
  if (unknownOptions.length) {
    process.stderr.write(`mtaq: unknown option ${unknownOptions.join(', ')} (see mtaq config keys)\n`);
    return 2;
  }
  return command(loaded.config, loaded.rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code < 0) return;
    process.exitCode = code;
    // a cluster worker is kept alive by its IPC channel; let go of it so a failed start exits
    if (cluster.isWorker) process.disconnect?.();
  },
  (err: unknown) => {
    process.stderr.write(`mtaq: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
