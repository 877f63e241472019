import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { maskUrl, type Config } from '@mtaq/config';
import { Injector, InjectInputError, userName } from '@mtaq/ingress';
import { createLogger } from '@mtaq/log';
import { BrokerLoginError, connectFromConfig } from '@mtaq/queue';
import { describeBrokerError } from './broker-errors.js';
import { EX_CONFIG, EX_DATAERR, EX_NOINPUT, EX_TEMPFAIL, EX_UNAVAILABLE, EX_USAGE } from './exit-codes.js';

export { INJECT_OPTIONS } from './usage.js';

interface InjectArgs {
  readonly file: string | undefined;
  readonly envelope: string | undefined;
  readonly recipients: string[];
}

function parseArgs(words: readonly string[]): InjectArgs | string {
  let file: string | undefined;
  let envelope: string | undefined;
  const recipients: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--envelope' || word === '--recipient') {
      const value = words[++i];
      if (value === undefined) return `${word} needs an address`;
      if (word === '--envelope') envelope = value;
      else recipients.push(...value.split(',').map((r) => r.trim()).filter(Boolean));
    } else if (file === undefined) file = word;
    else return `one message at a time ("${file}" and "${word}" given)`;
  }
  return { file: file === '-' ? undefined : file, envelope, recipients };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return userName(process.getuid?.() ?? -1);
  }
}

/**
 * `mtaq inject [FILE|-] [--envelope ADDR] [--recipient ADDR]...`: a MIME message or a JSON
 * document from FILE or standard input, one document per recipient, published with confirms to
 * rabbitmq-inbox (or local/reports, as SMTP mail is routed). Prints `<message-id> <recipient>` per
 * document. The `cli` property records the command, the words after it (never the config options,
 * which may carry a broker password) and the user.
 */
export async function injectCommand(config: Config, words: string[]): Promise<number> {
  const args = parseArgs(words);
  if (typeof args === 'string') {
    process.stderr.write(`mtaq inject: ${args} (see mtaq inject --help)\n`);
    return EX_USAGE;
  }
  let input: Buffer;
  try {
    input = args.file === undefined ? await readStdin() : await readFile(args.file);
  } catch (err) {
    process.stderr.write(`mtaq inject: cannot read ${args.file ?? 'standard input'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
    return EX_NOINPUT;
  }
  // warnings (an x-mq header that does not parse, the broker going away) as JSON lines on stderr
  const logger = createLogger({ level: 'warn', name: 'mtaq-inject', destination: 2 });
  const request = {
    input,
    origin: { cli: { command: 'mtaq inject', arguments: [...words], user: currentUser() } },
    extract: true, // §5: always for the CLI
    envelope: args.envelope,
    recipients: args.recipients,
  };
  // the input is checked before the broker is asked for anything
  const injector = new Injector({ config, logger });
  let batches;
  try {
    batches = await injector.compose(request);
  } catch (err) {
    if (!(err instanceof InjectInputError)) throw err;
    process.stderr.write(`mtaq inject: ${args.file ?? 'standard input'}: ${err.message}\n`);
    return EX_DATAERR;
  }
  const url = config['rabbitmq-address'][0]!;
  let connected: Awaited<ReturnType<typeof connectFromConfig>>;
  try {
    // broker chatter (reconnecting, rabbitmq-persistent false) is for services: here only errors
    connected = await connectFromConfig(config, createLogger({ level: 'error', name: 'mtaq-inject', destination: 2 }), 'inject');
  } catch (err) {
    const failure = describeBrokerError(err instanceof BrokerLoginError ? err.cause : err, url, config['rabbitmq-inbox']);
    process.stderr.write(`mtaq inject: ${failure?.message ?? (err as Error).message}\n`);
    return failure?.exitCode ?? (err instanceof BrokerLoginError ? EX_CONFIG : EX_UNAVAILABLE);
  }
  const { broker, publisher } = connected;
  try {
    if (!broker.isConnected) {
      process.stderr.write(`mtaq inject: cannot reach RabbitMQ at ${maskUrl(url)}\n`);
      return EX_UNAVAILABLE;
    }
    try {
      await injector.publish(publisher, batches);
    } catch (err) {
      process.stderr.write(`mtaq inject: not queued: ${(err as Error).message} (copies listed in the log may have been; try again)\n`);
      return EX_TEMPFAIL;
    }
    for (const batch of batches) for (const document of batch.documents) process.stdout.write(`${document['message-id']} ${document.recipient}\n`);
    return 0;
  } finally {
    await publisher.close().catch(() => undefined);
    await broker.close().catch(() => undefined);
  }
}
