import type { Config } from '@mtaq/config';
import { peekQueue } from '@mtaq/queue';
import { describeBrokerError } from './broker-errors.js';
import { EX_USAGE } from './exit-codes.js';

/** `mtaq queue peek [QUEUE] [--count N]`: a broker or queue problem is one line and an exit status. */
export async function queueCommand(config: Config, words: string[]): Promise<number> {
  const [sub, ...rest] = words;
  if (sub !== 'peek') {
    process.stderr.write(`mtaq queue: unknown subcommand "${sub ?? ''}" (expected peek; see mtaq queue --help)\n`);
    return EX_USAGE;
  }
  const countAt = rest.indexOf('--count');
  const count = countAt >= 0 ? Number(rest.splice(countAt, 2)[1]) : 10;
  const queue = rest[0] ?? config['rabbitmq-inbox'];
  if (queue === '') {
    process.stderr.write('mtaq queue peek: name a queue (rabbitmq-inbox is empty)\n');
    return EX_USAGE;
  }
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write('mtaq queue peek: --count needs a positive whole number\n');
    return EX_USAGE;
  }
  const url = config['rabbitmq-address'][0]!;
  let messages: unknown[];
  try {
    messages = await peekQueue(url, queue, count);
  } catch (err) {
    const failure = describeBrokerError(err, url, queue);
    if (failure === undefined) throw err; // main's handler prints it as one line
    process.stderr.write(`mtaq queue peek: ${failure.message}\n`);
    return failure.exitCode;
  }
  for (const message of messages) process.stdout.write(`${JSON.stringify(message)}\n`);
  process.stderr.write(`${messages.length} message(s) on ${queue} shown, none removed\n`);
  return 0;
}
