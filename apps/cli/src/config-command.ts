import { exposureWarnings, formatConfig, keyInfo, type LoadResult } from '@mtaq/config';
import { EX_USAGE } from './exit-codes.js';

/**
 * `mtaq config check` prints the effective configuration (main has already refused a bad one and
 * printed the warnings, or refused them too under --strict); `mtaq config keys` lists every key.
 */
export function configCommand(loaded: LoadResult, words: string[]): number {
  const sub = words.find((word) => !word.startsWith('-')) ?? 'check';
  if (sub === 'check') {
    process.stdout.write(formatConfig(loaded.config));
    const exposure = exposureWarnings(loaded.config);
    const broker = brokerSizeWarning(loaded.config['smtp-maxsize']);
    if (broker) exposure.push(broker);
    for (const warning of exposure) process.stderr.write(`mtaq: warning: ${warning}\n`);
    const count = loaded.warnings.length + exposure.length;
    process.stderr.write(`configuration is valid${count > 0 ? ` (${count} warning${count > 1 ? 's' : ''} above)` : ''}\n`);
    return 0;
  }
  if (sub === 'keys') {
    // status before the default: a few defaults are long templates and would push it out of line
    process.stdout.write(`${'KEY'.padEnd(33)} ${'STATUS'.padEnd(11)} ${'DEFAULT'.padEnd(36)} MEANING\n`);
    for (const info of keyInfo) {
      process.stdout.write(`${info.key.padEnd(33)} ${info.status.padEnd(11)} ${info.default.padEnd(36)} ${info.description}\n`);
    }
    return 0;
  }
  process.stderr.write(`mtaq config: unknown subcommand "${sub}" (expected check or keys; see mtaq config --help)\n`);
  return EX_USAGE;
}

/**
 * RabbitMQ 3.x refuses a message above `max_message_size`, 128 MiB by default (3.8 to 3.13; 4.0
 * lowered the default to 16 MiB): a message of `smtp-maxsize` becomes a JSON document about 1.1
 * times its size (escaping, the envelope fields), which must fit.
 */
export const RABBITMQ_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;

export function brokerSizeWarning(maxSize: number): string | undefined {
  const json = Math.ceil(maxSize * 1.1);
  if (json <= RABBITMQ_MAX_MESSAGE_SIZE) return undefined;
  return (
    `smtp-maxsize ${maxSize} makes JSON documents of about ${json} bytes, above RabbitMQ's default max_message_size ` +
    `(${RABBITMQ_MAX_MESSAGE_SIZE} bytes on 3.x, assumed; 16 MiB on 4.x): such messages would be refused (451) after DATA ` +
    `unless the broker's max_message_size is raised (rabbitmqctl version tells the installed one)`
  );
}
