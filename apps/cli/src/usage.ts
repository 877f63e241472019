import { keyInfo, type Group } from '@mtaq/config';

/** Options of `mtaq inject` that are not config keys (main lets them through); here so main need not load the ingress to know them. */
export const INJECT_OPTIONS = ['--envelope', '--recipient', '-'];

export const USAGE = `mtaq — a queue-backed mail transfer agent around RabbitMQ

Usage:
  mtaq pipeline [--config-file FILE] [--<key> VALUE]...  run ingress and delivery in one process
  mtaq ingress [--config-file FILE] [--<key> VALUE]...   run the SMTP ingress (SMTP → inbox queue)
  mtaq delivery [--config-file FILE] [--<key> VALUE]...  run delivery (outbox queue → upstream or folder)
  mtaq worker --script FILE [--<key> VALUE]...           run a consumer script (inbox queue → script → outbox queue)
  mtaq config check [--strict] [--config-file FILE] [--<key> VALUE]...
                                                       validate the configuration and print it (secrets masked)
  mtaq config keys                                     list every configuration key with its default and status
  mtaq queue peek [QUEUE] [--count N]                  print messages of a queue (default: the inbox)
                                                       as JSON lines, leaving them on the queue
  mtaq cluster list [--json]                           list the delivery nodes, their source IPs and queues
                                                       (MailerQ: --list-cluster)
  mtaq inject [FILE|-] [--envelope ADDR] [--recipient ADDR]...
                                                       queue a MIME message or JSON document (file or stdin)
  mtaq password [--hash bcrypt|sha512-crypt|sha256-crypt|sha256|sha384|sha512]
                                                       hash a password (prompt or stdin) for file:// or CSV users
  mtaq dkim generate --domain D --selector S [--bits 2048] [--type rsa|ed25519]
                                                       print a new DKIM private key and its DNS TXT record
  mtaq <command> --help                                help for one command
  mtaq --help | --version

Configuration is read from, each overriding the one before: built-in defaults, /etc/mtaq/mtaq.conf,
the file named by --config-file (default ./etc/mtaq.conf), --<key> VALUE options, and MTAQ_<KEY>
environment variables (e.g. MTAQ_SMTP_PORT=2525). Every key can be given on the command line.
`;

const CONFIG_OPTIONS: Option[] = [
  ['--config-file FILE', 'read FILE instead of ./etc/mtaq.conf (after /etc/mtaq/mtaq.conf); env MTAQ_CONFIG_FILE'],
  ['--<key> VALUE', 'any configuration key (mtaq config keys), e.g. --smtp-port 2525; MTAQ_<KEY> overrides it'],
];
const HELP: Option = ['-h, --help', 'this help'];

type Option = readonly [flags: string, meaning: string];

interface CommandHelp {
  readonly usage: string;
  readonly about: string;
  readonly options: readonly Option[];
  /** Groups whose implemented keys are listed as the settings that matter for the command. */
  readonly groups?: readonly Group[];
  readonly footer?: string;
}

const SERVICE_OPTIONS: Option[] = [
  ...CONFIG_OPTIONS,
  ['--config-strict', 'refuse to start (exit 78) while the configuration has warnings'],
  HELP,
];
const SERVICE_FOOTER = 'Logs are JSON lines on stdout. SIGTERM or SIGINT stops it gracefully. Exit 78: bad configuration.';

const COMMANDS: Record<string, CommandHelp> = {
  pipeline: {
    usage: 'mtaq pipeline [--config-file FILE] [--<key> VALUE]...',
    about: 'Runs the SMTP ingress and delivery in one process: mail received on smtp-port goes to rabbitmq-inbox,\ndelivery takes rabbitmq-outbox to the smarthost, the MX or delivery-folder.',
    options: SERVICE_OPTIONS,
    groups: ['SMTP ingress', 'Spool', 'RabbitMQ', 'Delivery', 'DNS', 'Logging', 'HTTP'],
    footer: SERVICE_FOOTER,
  },
  ingress: {
    usage: 'mtaq ingress [--config-file FILE] [--<key> VALUE]...',
    about:
      'Runs the SMTP server: every accepted message becomes one JSON document per recipient on\nrabbitmq-inbox, and the client gets 250 only once RabbitMQ confirmed them all.\n' +
      'With spool-directory set, files dropped there are injected the same way (by the primary process only).',
    options: SERVICE_OPTIONS,
    groups: ['SMTP ingress', 'Spool', 'RabbitMQ', 'Logging', 'HTTP'],
    footer: SERVICE_FOOTER,
  },
  delivery: {
    usage: 'mtaq delivery [--config-file FILE] [--<key> VALUE]...',
    about: 'Consumes rabbitmq-outbox and delivers each message: smarthost, smtp-sink-address or the MX of the\nrecipient domain, or with none of them configured an .eml file in delivery-folder.',
    options: SERVICE_OPTIONS,
    groups: ['Delivery', 'DNS', 'RabbitMQ', 'Logging', 'HTTP'],
    footer: SERVICE_FOOTER,
  },
  worker: {
    usage: 'mtaq worker --script FILE [--config-file FILE] [--<key> VALUE]...',
    about:
      'Runs a consumer script: FILE is an ES module whose default export is\n' +
      'async (message, context) => message | message[] | null. Each message of rabbitmq-inbox goes through it and what it\n' +
      'returns is published, confirmed, to rabbitmq-outbox (ids: input message-id + "." + index); null drops the message.\n' +
      'A throw puts the message with a process/error result on worker-failure-queue (default <rabbitmq-inbox>.failed);\n' +
      'context.retry(err), or an error with transient: true, retries it worker-retries times after worker-retry-delay.\n' +
      'rabbitmq-inbox and rabbitmq-outbox must differ (both default to outbox: set rabbitmq-inbox: inbox).',
    options: [['--script FILE', 'the script (as worker-script)'], ...SERVICE_OPTIONS],
    groups: ['Worker', 'RabbitMQ', 'Logging'],
    footer: `${SERVICE_FOOTER} Chains: --rabbitmq-inbox a --rabbitmq-outbox b.`,
  },
  config: {
    usage: 'mtaq config check [--strict] [--config-file FILE] [--<key> VALUE]...\n       mtaq config keys',
    about:
      'check: loads the configuration exactly as a service would and prints the effective values (secrets\n' +
      '       masked); warnings (unknown keys, keys with no effect yet) go to stderr.\n' +
      'keys:  every key with its default, its status (implemented, or unsupported = accepted but no effect yet)\n' +
      '       and its meaning.',
    options: [
      ['--strict', 'warnings are errors (as with config-strict: true)'],
      ...CONFIG_OPTIONS,
      HELP,
    ],
    footer: 'Exit status: 0 valid (warnings are printed), 78 errors, or warnings with --strict / config-strict.',
  },
  queue: {
    usage: 'mtaq queue peek [QUEUE] [--count N] [--config-file FILE] [--rabbitmq-address URL]',
    about:
      'Prints up to N messages of QUEUE (default: rabbitmq-inbox) as JSON lines. They stay on the queue:\n' +
      'they are taken unacknowledged and handed back, so RabbitMQ marks them redelivered.',
    options: [['--count N', 'how many messages (default 10)'], ...CONFIG_OPTIONS, HELP],
    footer: 'Exit status: 0 shown, 2 bad usage, 66 no such queue, 69 RabbitMQ unreachable, 78 login or virtual host refused.',
  },
  cluster: {
    usage: 'mtaq cluster list [--json] [--config-file FILE] [--<key> VALUE]...   (or: mtaq --list-cluster)',
    about:
      'Sends {"hello": true} on cluster-exchange (at cluster-address) and prints, for every delivery node that\n' +
      'answers within cluster-timeout seconds, its server-id, host, own queue, the source IPs and pools it owns\n' +
      'and its HTTP server. --json prints each announcement as a JSON line.',
    options: [['--json', 'one JSON announcement per line'], ...CONFIG_OPTIONS, HELP],
    groups: ['Cluster'],
    footer: 'Exit status: 0 listed (possibly none), 2 bad usage, 69 cluster broker unreachable.',
  },
  inject: {
    usage: 'mtaq inject [FILE|-] [--envelope ADDR] [--recipient ADDR]... [--config-file FILE] [--<key> VALUE]...',
    about:
      'Queues one message from FILE or standard input (no FILE, or -): a MIME message, or a JSON document (or an\n' +
      'array of them) when it starts with { or [. One document per recipient goes to rabbitmq-inbox (Local\n' +
      'Addresses to rabbitmq-local / -reports), published with confirms; each is printed as "<message-id> <recipient>".\n' +
      'A MIME message: x-mq-* headers become properties, the envelope is the first address in x-mq-envelope,\n' +
      'Return-Path, From, Sender; recipients are To, Cc and Bcc, and the Bcc header is removed. The JSON gets\n' +
      '"cli": {"command", "arguments", "user"}.',
    options: [
      ['--envelope ADDR', 'the envelope sender (MAIL FROM); "" is the null sender'],
      ['--recipient ADDR', 'a recipient instead of To/Cc/Bcc or the JSON recipient; repeat it (or a,b) for more'],
      ...CONFIG_OPTIONS,
      HELP,
    ],
    footer: 'Exit status: 0 queued, 2 bad usage, 65 unusable input, 66 file unreadable, 69 RabbitMQ unreachable,\n75 a publish was not confirmed (try again), 78 login or virtual host refused.',
  },
  dkim: {
    usage: 'mtaq dkim generate --domain D --selector S [--bits 2048] [--type rsa|ed25519]',
    about:
      'Makes a new DKIM key and prints, on standard output, the private key (PKCS#8 PEM) and the TXT record to publish:\n' +
      'name S._domainkey.D, value "v=DKIM1; k=rsa; p=…" as one zone-file line, split into strings of at most 255\n' +
      'bytes. Save the key to a file only mtaq can read and name it in dkim-key (with dkim-domain, dkim-selector).\n' +
      'Needs no configuration and no broker.',
    options: [
      ['--domain D', 'the signing domain (d=)'],
      ['--selector S', 'the selector (s=)'],
      ['--bits N', 'RSA key size, 1024 to 8192 (default 2048)'],
      ['--type T', 'rsa (default) or ed25519 (k=ed25519, RFC 8463; not every verifier knows it)'],
      HELP,
    ],
    footer: 'Exit status: 0 printed, 2 bad usage.',
  },
  password: {
    usage: 'mtaq password [--hash SCHEME]',
    about:
      'Hashes a password for smtp-auth file:// users or the smtp-auth-csv file. Reads it twice, unechoed, from a\n' +
      'terminal, or the first line of standard input; prints the hash.',
    options: [['--hash SCHEME', 'bcrypt (default; in the CSV format bcrypt:$2b$…), sha512-crypt, sha256-crypt, sha256, sha384, sha512'], HELP],
  },
};

export function hasCommandHelp(command: string): boolean {
  return Object.hasOwn(COMMANDS, command);
}

/** `mtaq <command> --help`: the command's usage, its options and the settings that matter to it. */
export function commandUsage(command: string): string {
  const help = COMMANDS[command];
  if (help === undefined) return USAGE;
  const width = Math.max(...help.options.map(([flags]) => flags.length)) + 2;
  const lines = [`Usage: ${help.usage}`, '', help.about, '', 'Options:'];
  for (const [flags, meaning] of help.options) lines.push(`  ${flags.padEnd(width)}${meaning}`);
  if (help.groups !== undefined) {
    lines.push('', 'Settings (as --<key> VALUE or in the config file; `mtaq config keys` explains each):');
    for (const group of help.groups) lines.push(...wrap(`${group}:`, settingsOf(group)));
  }
  if (help.footer !== undefined) lines.push('', help.footer);
  return `${lines.join('\n')}\n`;
}

/** Keys with no effect yet are left out: help lists only what the command acts on. */
function settingsOf(group: Group): string[] {
  return keyInfo.filter((info) => info.group === group && info.status === 'implemented').map((info) => info.key);
}

function wrap(title: string, words: string[], width = 100): string[] {
  const lines: string[] = [];
  let line = `  ${title}`;
  for (const word of words) {
    if (line.length + word.length + 1 > width) {
      lines.push(line);
      line = '   ';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}
