import { amqpAddresses } from './amqp.js';
import {
  InvalidValue,
  MASK,
  bool,
  cidrList,
  dsnNotify,
  duration,
  durationList,
  int,
  ipList,
  limitRules,
  maskAuthUrl,
  oneOf,
  optionalNumber,
  pairList,
  port,
  portList,
  queueName,
  secretText,
  serverList,
  size,
  someOf,
  text,
  textList,
  url,
  type ValueType,
} from './parsers.js';

export type Group =
  | 'SMTP ingress'
  | 'Spool'
  | 'RabbitMQ'
  | 'Delivery'
  | 'DNS'
  | 'Database'
  | 'Storage'
  | 'Logging'
  | 'Cluster'
  | 'Process'
  | 'Worker'
  | 'HTTP'
  | 'Legacy';

/**
 * `implemented`: runtime code reads the key. `unsupported`: parsed and validated, so MailerQ
 * configurations load unchanged, but nothing acts on it yet; setting it warns (unsupported.ts).
 * test/key-status.test.ts fails when a mark disagrees with what the runtime sources read.
 */
export type KeyStatus = 'implemented' | 'unsupported';

export interface KeyDef<T> {
  readonly group: Group;
  readonly status: KeyStatus;
  /**
   * Runtime code never reads this key: loading folds its value into the named key (the legacy
   * `rabbitmq-host` & co. build `rabbitmq-address`), so it works exactly when that key is read.
   */
  readonly foldedInto?: string | undefined;
  readonly type: ValueType<T>;
  /** Default in file syntax: the single source of defaults, parsed like any other value. */
  readonly default: string;
  readonly description: string;
  /** Older or alternative names; within one source the canonical name wins over an alias (I3). */
  readonly aliases: readonly string[];
  /** The value (or part of it) is a credential: masked by `formatConfig` and in error messages. */
  readonly secret: boolean;
}

interface Extra {
  readonly aliases?: readonly string[];
  readonly secret?: boolean;
  readonly status?: KeyStatus;
  readonly foldedInto?: string;
}

/** Marks a key that is accepted but not acted on yet (see KeyStatus). */
const notYet = { status: 'unsupported' } as const satisfies Extra;

function inGroup(group: Group) {
  return <T>(type: ValueType<T>, dflt: string, description: string, extra: Extra = {}): KeyDef<T> => ({
    group,
    status: extra.status ?? 'implemented',
    foldedInto: extra.foldedInto,
    type,
    default: dflt,
    description,
    aliases: extra.aliases ?? [],
    secret: extra.secret ?? type.mask !== undefined,
  });
}

const smtp = inGroup('SMTP ingress');
const spool = inGroup('Spool');
const rabbit = inGroup('RabbitMQ');
const delivery = inGroup('Delivery');
const dns = inGroup('DNS');
const database = inGroup('Database');
const storage = inGroup('Storage');
const logging = inGroup('Logging');
const cluster = inGroup('Cluster');
const proc = inGroup('Process');
const worker = inGroup('Worker');
const www = inGroup('HTTP');
const legacy = inGroup('Legacy');

/** The legacy broker keys (MailerQ 3.x) take effect by building rabbitmq-address (build.ts). */
const buildsAddress = { foldedInto: 'rabbitmq-address' } as const satisfies Extra;

const strictness = oneOf(['strict', 'loose']);
const positiveDuration = duration({ positive: true });
const atLeastOne = int({ min: 1 });
const unlimited = int({ min: 0, emptyAs: 0 });
const prefetch = int({ min: 0, max: 65535 });
const noSpaces = text({ describe: 'name', spaces: false });

const AUTH_SCHEMES = ['hardcoded', 'file', 'ldap', 'ldaps', 'radius', 'users', 'http', 'https', 'exec'];
const STORAGE_SCHEMES = [
  'mongodb', 'mongodb+srv', 'couchbase', 'couchbases', 'sqlite', 'mysql', 'postgresql', 'postgres', 'dir', 'directory', 's3',
];
const DATABASE_SCHEMES = ['sqlite', 'mysql', 'postgresql', 'postgres'];

/** One IP address (www-ip). */
const oneIp: ValueType<string> = {
  describe: 'IP address',
  parse(value) {
    const list = ipList.parse(value);
    if (list.length !== 1) throw new InvalidValue('one IP address like "127.0.0.1"');
    return list[0]!;
  },
  format: (value) => value,
};
/** HTTP port; empty = the server is off. */
const optionalPort: ValueType<number> = {
  describe: 'port',
  parse: (value) => (value.trim() === '' ? 0 : port.parse(value)),
  format: (value) => (value === 0 ? '' : String(value)),
};
/** Bearer tokens: a list, or file:///path (or an absolute path) of a file with one per line. */
const tokenList: ValueType<readonly string[]> = { ...textList, describe: 'list of tokens or a file', mask: (value) => (value.length === 0 ? '' : MASK) };

/** Default `send-log-format`, MailerQ's documented template. */
const SEND_LOG_FORMAT =
  '[{$date}] {$result.state}:{$result.result} {$attempt} <{$email.envelope}> <{$email.recipient}> [{$result.from}] [{$result.to}] {$email.tags} {$result.code} {$result.status} {$result.description}';

/**
 * Every configuration key, in the order `formatConfig` and `--help` list them. The `Config` type
 * is derived from this table, so adding a row here is all it takes to add a setting.
 */
export const schema = {
  // ------------------------------------------------------------------ SMTP ingress (reference §2.2)
  'smtp-port': smtp(portList, '25', 'Plain/STARTTLS listening ports; ranges allowed (25,2525,1024-1026); empty = none'),
  'smtp-secure-port': smtp(portList, '', 'Implicit-TLS listening ports (TLS from the first byte); empty = none'),
  'smtp-ip': smtp(ipList, '', 'Local addresses to listen on; empty = all addresses'),
  'smtp-hostname': smtp(noSpaces, '', 'Name in the 220 greeting and the JSON "hostname"; empty = the OS host name'),
  'smtp-certificate': smtp(text({ describe: 'path' }), '', 'PEM certificate file for STARTTLS and secure ports; empty = no TLS'),
  'smtp-key': smtp(text({ describe: 'path' }), '', 'PEM private key file belonging to smtp-certificate', { aliases: ['smtp-privatekey'] }),
  'smtp-ciphers': smtp(text(), '', "OpenSSL cipher list for TLS; empty = Node's default"),
  'smtp-range': smtp(
    cidrList,
    '',
    'Trusted client ranges: they may relay without authenticating; others may only mail local addresses or must log in. Empty = nobody relays unauthenticated',
    { aliases: ['smtp-trusted-networks'] },
  ),
  'smtp-trusted-networks-csv': smtp(text({ describe: 'path or URL' }), '', 'CSV file or http(s) URL adding trusted networks (the concentrator\'s trustedNetworks provisioning)'),
  'smtp-trusted-networks-csv-column': smtp(int({ min: 0, max: 32 }), '0', 'Column (0-based) of the network in smtp-trusted-networks-csv'),
  'smtp-proxy': smtp(cidrList, '', 'Peers whose connections start with a PROXY v1/v2 header (load balancers)'),
  'smtp-protection': smtp(bool, 'true', 'Refuse clients that are on smtp-blocklist'),
  'smtp-blocklist': smtp(cidrList, '', 'Client ranges refused at connect (554 5.7.1) while smtp-protection is on'),
  'smtp-local-addresses': smtp(
    textList,
    '',
    'Local Addresses: anyone may send to them. Patterns: exact address, @domain, fnmatch (*@example.com), /regex/',
  ),
  'smtp-local-addresses-file': smtp(text({ describe: 'path' }), '', 'File with one Local Address pattern per line (# comments)'),
  'smtp-sender-allow': smtp(textList, '', 'If set, MAIL FROM must match one of these patterns (same syntax as Local Addresses)'),
  'smtp-recipient-deny': smtp(textList, '', 'RCPT TO matching one of these patterns is refused with 550 5.7.1'),
  'smtp-auth-insecure': smtp(bool, 'false', 'Allow AUTH before STARTTLS (passwords in clear text on the wire)', {
    aliases: ['smtp-allow-insecure-authentication'],
  }),
  'smtp-require-tls': smtp(bool, 'false', 'Refuse everything but EHLO/HELO/STARTTLS/NOOP/QUIT/RSET before TLS'),
  'smtp-auth-csv': smtp(text({ describe: 'path or URL' }), '', 'Concentrator-style CSV users (file path or http(s) URL); used as an AUTH backend'),
  'smtp-auth-csv-columns': smtp(text(), 'username=0,password=1,network=2', 'Column indexes (0-based) of username, password and optional network'),
  'smtp-auth-csv-header': smtp(bool, 'false', 'The CSV starts with a header line to skip'),
  'smtp-auth-csv-reload': smtp(duration({ emptyAs: 0 }), '600', 'Seconds between CSV reloads (users and trusted networks); 0 = load once'),
  'smtp-auth-csv-insecure-passwords': smtp(bool, 'false', 'Accept plain-text passwords in the CSV (otherwise such users cannot log in)'),
  'smtp-auth-timeout': smtp(positiveDuration, '10', 'Seconds an auth backend (http, exec, ldap, radius) may take'),
  'smtp-auth-max-failures': smtp(int({ min: 0 }), '5', 'Failed logins per client address within smtp-auth-failure-window before AUTH is refused; 0 = no limit'),
  'smtp-auth-failure-window': smtp(positiveDuration, '300', 'Seconds over which failed logins are counted'),
  'smtp-auth-delay': smtp(duration(), '1', 'Per account: seconds an AUTH attempt waits before its check once the account has had an attempt since its last good login; doubles per attempt (shared through redis-address); 0 = off'),
  'smtp-auth-delay-max': smtp(duration(), '30', 'Per account: the longest any AUTH attempt waits (never a lockout: the real user gets in after at most this)'),
  'smtp-auth-account-window': smtp(positiveDuration, '900', 'Per account: seconds without an attempt after which the account\'s delay starts again from 0'),
  'smtp-auth-concurrency': smtp(atLeastOne, '8', 'Password checks at once per ingress process; more wait, up to smtp-auth-timeout, then 454 4.7.0'),
  'smtp-max-errors': smtp(atLeastOne, '10', 'Errors (bad or refused commands) before the session is closed with 421'),
  'smtp-connections-per-ip': smtp(unlimited, '0', 'Concurrent connections per client address; 0 = unlimited'),
  'smtp-connection-rate-per-ip': smtp(unlimited, '0', 'New connections per client address per minute; 0 = unlimited'),
  'smtp-auth': smtp(
    url(AUTH_SCHEMES, { example: 'hardcoded://alice:secret', mask: maskAuthUrl }),
    '',
    'Authentication backend (hardcoded://, file://, ldap://, radius://, users://, http://, exec://); empty = no auth',
  ),
  'smtp-username': smtp(text(), '', 'Single login user name (MailerQ <= 5.11; prefer smtp-auth)'),
  'smtp-password': smtp(secretText, '', 'Password for smtp-username', { secret: true }),
  'smtp-validate-address': smtp(strictness, 'strict', 'MAIL FROM / RCPT TO syntax check: strict (RFC 5321) or loose'),
  'smtp-maxsize': smtp(size(), '100MB', 'Largest accepted message, advertised with SIZE'),
  'smtp-timeout': smtp(positiveDuration, '300', 'Seconds to wait for the client before closing with 421'),
  'smtp-greeting-delay': smtp(duration(), '0', 'Seconds to wait before the 220 greeting, to catch clients that talk early'),
  'smtp-greeting-delay-exempt': smtp(cidrList, '', 'Clients that never wait for the greeting delay'),
  'smtp-threads': smtp(atLeastOne, '1', 'Worker threads for SMTP traffic'),
  'smtp-max-recipients': smtp(atLeastOne, '1000', 'Most RCPT TO accepted in one transaction'),
  'smtp-max-inflight': smtp(size(), '64MB', 'Message bytes one ingress process holds at once (its RSS grows about 4x this): each transaction reserves its declared SIZE (else 1/32 of this, at least 1MB) at MAIL FROM, 452 4.3.1 when full'),
  'smtp-connections': smtp(unlimited, '0', 'Cap on inbound + outbound connections of one process together; 0 = unlimited'),
  'smtp-connections-wait': smtp(positiveDuration, '30', 'Seconds a connection over smtp-connections(-in) is held without a greeting, waiting for a slot, before it gets 421'),
  'smtp-min-rate': smtp(unlimited, '32', 'Bytes per second a command line or message must arrive at once it has taken smtp-min-rate-grace; slower: 421 and close; 0 = off'),
  'smtp-min-rate-grace': smtp(positiveDuration, '30', 'Seconds a command line or message may take before smtp-min-rate applies'),
  'smtp-connections-in': smtp(unlimited, '0', 'Cap on inbound connections; 0 = unlimited'),
  'smtp-connections-out': smtp(unlimited, '0', 'Cap on outbound connections; 0 = unlimited'),
  'smtp-extract': smtp(bool, 'true', 'Turn x-mq-* headers of received mail into JSON properties'),
  'smtp-check': smtp(
    someOf(['spf', 'dkim', 'dmarc', 'spam', 'arc']),
    '',
    'Checks run on received mail after DATA (spf, dkim, dmarc, spam; arc is an mtaq extension): verdicts go into the JSON "checks"; they never refuse mail unless smtp-check-reject says so',
  ),
  'smtp-check-timeout': smtp(positiveDuration, '5', 'Seconds all checks of one message may take together; a check still waiting then is a temperror'),
  'smtp-check-reject': smtp(
    someOf(['dmarc', 'spam']),
    '',
    'mtaq extension: refuse (550 5.7.1) mail from unauthenticated, untrusted clients that fails DMARC under p=reject (dmarc) or scores at least smtp-check-reject-score (spam); empty = checks only annotate',
  ),
  'smtp-check-reject-score': smtp(optionalNumber, '', 'Spam score from which smtp-check-reject: spam refuses; empty = spamd\'s own required score'),
  'smtp-auth-results': smtp(someOf(['local', 'nonlocal']), '', 'Add an Authentication-Results header to mail for local and/or non-local recipients'),
  'spamassassin-host': smtp(noSpaces, 'localhost', 'spamd host used by the "spam" check'),
  'spamassassin-port': smtp(port, '783', 'spamd port used by the "spam" check'),
  'spamassassin-maxsize': smtp(size(), '500KB', 'Larger messages are not sent to spamd (as spamc\'s own default); their verdict says so'),
  'dsn-advertise': smtp(bool, 'true', 'Announce DSN in EHLO and accept RET/ENVID/NOTIFY/ORCPT'),
  'smtp-default-ips': smtp(ipList, '', 'Source addresses for messages that name none; empty = all local addresses', {
    aliases: ['smtp-defaultips', 'smtp-defaultip'],
  }),
  'smtp-mappable-ips': smtp(cidrList, '', 'Local addresses that received mail may be sent out from again'),
  'smtp-unmappable-ips': smtp(cidrList, '', 'Exceptions to smtp-mappable-ips'),

  // ------------------------------------------------------------------ spool directory injection
  'spool-directory': spool(text({ describe: 'path' }), '', 'Directory watched for message files to inject; empty = off'),
  'spool-fail-directory': spool(text({ describe: 'path' }), '', 'Where spool files that could not be injected are moved, each with a .reason file; empty = <spool-directory>/failed'),
  'spool-delay': spool(duration(), '0', 'Seconds a spool file must be left alone before it is picked up'),
  'spool-remove': spool(bool, 'true', 'Delete spool files after injecting them; false = move them to <spool-directory>/injected'),
  'spool-extract': spool(bool, 'true', 'Turn x-mq-* headers of spool files into JSON properties'),
  'spool-open-files': spool(atLeastOne, '10', 'Spool files processed at the same time'),
  'spool-threads': spool(atLeastOne, '1', 'Threads reading the spool directory', notYet),

  // ------------------------------------------------------------------ RabbitMQ (reference §2.3)
  'rabbitmq-address': rabbit(
    amqpAddresses({ required: true }),
    'amqp://guest:guest@localhost/',
    'Broker URL(s): amqp[s]://user:pass@host[:port]/vhost; several joined by "," or hosts joined by ";"',
  ),
  'rabbitmq-verify': rabbit(bool, 'true', 'Verify the broker certificate for amqps://', notYet),
  'rabbitmq-outbox': rabbit(queueName, 'outbox', 'Queue delivery consumes from'),
  'rabbitmq-inbox': rabbit(queueName, 'outbox', 'Queue received mail is published to; empty = drop ordinary mail'),
  'rabbitmq-local': rabbit(queueName, '', 'Queue for mail to local addresses; empty = none'),
  'rabbitmq-reports': rabbit(queueName, '', 'Queue for local mail recognised as a DSN/DMARC/MDN report; empty = none'),
  'rabbitmq-refused': rabbit(queueName, '', 'Queue for refused mail (debugging; set a max-length): declared at start-up, but nothing is published to it yet; empty = none'),
  'rabbitmq-results': rabbit(queueName, '', 'Queue for every final delivery result; empty = none'),
  'rabbitmq-success': rabbit(queueName, '', 'Queue for successful deliveries; empty = none'),
  'rabbitmq-failure': rabbit(queueName, '', 'Queue for final failures; empty = none'),
  'rabbitmq-retry': rabbit(queueName, '', 'Queue for a copy of each transient failure that will be retried; empty = none'),
  'rabbitmq-dsn': rabbit(queueName, '', 'Queue for generated bounces; empty = no bounces'),
  'rabbitmq-exchange': rabbit(noSpaces, '', 'Exchange for every publish (declared as direct); empty = the default exchange'),
  'rabbitmq-declare': rabbit(bool, 'true', 'Declare the exchange and queues at start-up'),
  'rabbitmq-durable': rabbit(bool, 'true', 'Declare durable queues and exchanges'),
  'rabbitmq-persistent': rabbit(bool, 'false', 'Publish persistent messages (delivery-mode 2)'),
  'rabbitmq-lazy': rabbit(bool, 'false', 'Declare queues in lazy mode'),
  'rabbitmq-quorum': rabbit(bool, 'false', 'Declare quorum queues instead of classic ones'),
  'rabbitmq-maxpriority': rabbit(int({ min: 0, max: 255, emptyAs: 0 }), '', 'x-max-priority of every declared queue; empty or 0 = no priorities'),
  'rabbitmq-consumers': rabbit(atLeastOne, '1', 'Consumer connections', notYet),
  'rabbitmq-publishers': rabbit(atLeastOne, '1', 'Publisher connections', notYet),
  'rabbitmq-qos': rabbit(prefetch, '1000', 'Prefetch per consumer; 0 = unlimited'),
  'rabbitmq-minqos': rabbit(prefetch, '100', 'Lowest prefetch of delivery when it is reduced under load (prefetched messages waiting for a connection)'),
  'rabbitmq-flush-qos': rabbit(prefetch, '1000', 'Prefetch while draining park/paused queues', notYet),
  'rabbitmq-throttle': rabbit(atLeastOne, '100', 'Most unconfirmed publishes in flight'),
  'rabbitmq-encoding': rabbit(oneOf(['', 'gzip']), '', 'gzip = compress every publish (content-encoding: gzip); empty = plain JSON'),
  'rabbitmq-publish-timeout': rabbit(positiveDuration, '60', 'Seconds ingress waits for the broker to confirm a publish (not counting its own queueing) before answering 451'),
  'rabbitmq-reconnect-delay': rabbit(positiveDuration, '1', 'First delay before reconnecting to the broker (backs off from there)'),

  // ------------------------------------------------------------------ delivery (reference §2.4)
  'max-delivertime': delivery(positiveDuration, '86400', 'Seconds after first pickup to keep trying a message'),
  'max-attempts': delivery(int(), '0', 'Most delivery attempts per message; 0 = unlimited (time limit only)'),
  'retry-interval': delivery(durationList, '600,600,1800,1800,3600,3600,7200', 'Seconds between attempts; the last one repeats'),
  'validate-envelope': delivery(strictness, 'strict', 'Envelope address check for JSON input: strict or loose'),
  'validate-recipient': delivery(strictness, 'strict', 'Recipient address check for JSON input: strict or loose'),
  smarthost: delivery(noSpaces, '', 'Relay all mail through this host; empty = deliver to MX'),
  'smarthost-port': delivery(port, '25', 'Port of smarthost'),
  'smarthost-username': delivery(text(), '', 'User name for AUTH at smarthost; empty = no AUTH'),
  'smarthost-password': delivery(secretText, '', 'Password for smarthost-username', { secret: true }),
  'smtp-sink-address': delivery(
    { ...noSpaces, parse: (value: string) => (value === '0.0.0.0' ? '' : noSpaces.parse(value)) },
    '',
    'Debugging sink: connect here instead of the real MX (0.0.0.0 or empty = off)',
  ),
  'smtp-sink-port': delivery(port, '25', 'Port of smtp-sink-address'),
  'smtp-sink-username': delivery(text(), '', 'User name for AUTH at the sink'),
  'smtp-sink-password': delivery(secretText, '', 'Password for smtp-sink-username', { secret: true }),
  'dsn-notify': delivery(dsnNotify, 'NEVER', 'NOTIFY for messages without dsn.notify: NEVER or SUCCESS,FAILURE,DELAY'),
  'dsn-ret': delivery(oneOf(['HDRS', 'FULL']), 'HDRS', 'RET for messages without dsn.ret: HDRS or FULL'),
  'server-id': delivery(int({ min: 0, max: 1295 }), '1', 'Instance number embedded in message ids; unique per instance'),
  'delivery-method': delivery(
    oneOf(['auto', 'folder', 'smtp']),
    'auto',
    'auto = smarthost or smtp-sink-address when set, else write .eml files to delivery-folder; smtp = MX/smarthost; folder = always the folder',
  ),
  'delivery-folder': delivery(text({ describe: 'path' }), 'var/delivered', 'Folder for delivery-method folder (one .eml per message)'),
  'ip-pools': delivery(
    pairList('pool=IP list', 'pools like "bulk=10.0.0.5,10.0.0.6; trans=10.0.0.7"', (v) => ipList.parse(v), (v) => v.join(',')),
    '',
    'Named source-IP pools for the JSON "pool" property; an IP belongs to at most one pool',
  ),
  'ehlo-names': delivery(
    pairList('IP=name', 'names like "10.0.0.5=mta1.example.com"', (v) => noSpaces.parse(v), (v) => v),
    '',
    'EHLO name per source IP (else its PTR name, else smtp-hostname)',
  ),
  'delivery-limits': delivery(
    limitRules,
    '* * connections=10',
    'Connection budgets: "SOURCE DOMAIN connections=N messages=M" rules (SOURCE = IP, pool, * = each IP, all = every IP together; M per minute; 0 = unlimited); most specific wins',
  ),
  'redis-address': delivery(text(), 'redis://127.0.0.1:6379', 'Redis holding cluster-wide connection leases and rate counters (delivery) and the AUTH throttle counters (ingress, mtaq:auth: keys); empty = per-process limits only'),
  'delivery-processes': delivery(atLeastOne, '1', 'Delivery processes expected in the cluster: the local share of a limit while Redis is down'),
  'delivery-connect-timeout': delivery(positiveDuration, '30', 'Seconds to open a TCP connection upstream'),
  'delivery-greeting-timeout': delivery(positiveDuration, '30', 'Seconds to wait for the 220 greeting'),
  'delivery-socket-timeout': delivery(positiveDuration, '300', 'Seconds of upstream silence in any other SMTP state'),
  'delivery-idle-timeout': delivery(positiveDuration, '10', 'Seconds an idle upstream connection is kept for reuse'),
  'delivery-max-messages': delivery(atLeastOne, '100', 'Messages sent over one upstream connection before it is closed'),
  'dkim-domain': delivery(noSpaces, '', 'Sign outgoing mail with this DKIM domain (with dkim-selector and dkim-key)'),
  'dkim-selector': delivery(noSpaces, '', 'DKIM selector for dkim-domain'),
  'dkim-key': delivery(text({ describe: 'path' }), '', 'PEM private key file for dkim-domain'),
  'proxy-server': delivery(url(['http', 'https', 'socks', 'socks4', 'socks5'], { example: 'http://proxy:3128' }), '', 'Proxy for HTTP downloads; empty = direct', notYet),

  // ------------------------------------------------------------------ DNS (5.13 names; 5.12 names as aliases, I13)
  'dns-min-ttl': dns(positiveDuration, '60', 'Shorter TTLs are raised to this many seconds (must be > 0)'),
  'dns-timeout': dns(duration({ emptyAs: 0 }), '', 'Seconds before a lookup fails; empty = from resolv.conf', { aliases: ['dns-expire'] }),
  'dns-interval': dns(duration({ emptyAs: 0 }), '', 'Seconds before a query is retransmitted; empty = from resolv.conf', notYet),
  'dns-attempts': dns(atLeastOne, '5', 'Attempts per query'),
  'dns-capacity': dns(atLeastOne, '100', 'Queries in flight at the same time', notYet),
  'dns-sockets': dns(atLeastOne, '4', 'UDP sockets used for queries', notYet),
  'dns-buffersize': dns(size({ emptyAs: 0 }), '', 'Socket receive buffer size; empty = system default', notYet),
  'dns-rotate': dns(bool, 'false', 'Spread queries over all name servers instead of trying them in order', notYet),
  'dns-servers': dns(serverList, '', 'Name servers (IP or IP:port) to use instead of those in resolv.conf', { aliases: ['dns-nameserver'] }),
  'dns-spread': dns(duration({ emptyAs: 0 }), '', 'MailerQ 5.12: seconds before asking the next name server (accepted, ignored)', notYet),
  'dns-threads': dns(unlimited, '', 'MailerQ <= 5.10 resolver threads (accepted, ignored)', notYet),
  'dns-getaddrinfo': dns(bool, 'false', 'MailerQ <= 5.10 getaddrinfo switch (accepted, ignored)', notYet),

  // ------------------------------------------------------------------ rule database
  'database-address': database(
    url(DATABASE_SCHEMES, { example: 'sqlite:///var/lib/mtaq/mtaq.sqlite' }),
    'sqlite:///var/lib/mtaq/mtaq.sqlite',
    'Rule database (suppressions, pauses, forced errors, response and flood patterns, pools, DKIM keys): sqlite:///path for one host, postgresql://... for a cluster; mysql:// is refused at start-up; empty = no rules',
  ),
  'database-ttl': database(positiveDuration, '600', 'Seconds between rule reloads (a cluster {"reload": true} reloads at once)'),
  'database-validate': database(bool, 'true', 'At start-up check that every migration is applied and every rule table has its columns; delivery waits until they do'),

  // ------------------------------------------------------------------ message store (reference §2.5)
  'storage-address': storage(
    url(STORAGE_SCHEMES, { example: 'directory:///var/spool/mtaq?depth=4' }),
    '',
    'Where message bodies are stored (mongodb://, sqlite://, mysql://, postgresql://, dir://, s3://, ...); empty = no store',
    notYet,
  ),
  'storage-policy': storage(oneOf(['all', 'out', 'in', 'none']), 'out', 'Which messages get their MIME moved into the store: all, out, in, none', notYet),
  'storage-ttl': storage(duration(), '3600', 'Seconds a stored body is kept beyond the max delivery time of its message', notYet),
  'storage-threads': storage(atLeastOne, '1', 'Store worker threads', notYet),
  'storage-timeout': storage(positiveDuration, '20', 'Seconds before a store fetch times out', notYet),
  'storage-reschedule': storage(positiveDuration, '120', 'Seconds before a message is retried after a store timeout', notYet),

  // ------------------------------------------------------------------ logging
  'log-level': logging(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), 'info', 'Least severe level written to the process log'),
  'application-log': logging(textList, '', 'Application log targets: stdout, stderr, syslog or file paths', { ...notYet, aliases: ['error-log'] }),
  'send-log-file': logging(
    text({ describe: 'path' }),
    '',
    'File with one line per delivery attempt (e.g. /var/log/mtaq/send.log; relative = from the working directory); empty = off. Reopened on SIGHUP and when rotated away',
  ),
  'send-log-format': logging(text({ describe: 'template' }), SEND_LOG_FORMAT, 'Template of a send-log line ({$email.x}, {$result.x}, {$attempt}, {$date}; {if COND}…{else}…{/if})'),
  'send-bin-log-file': logging(text({ describe: 'path' }), '', 'Binary send log file; empty = off', notYet),
  'received-log-file': logging(
    text({ describe: 'path' }),
    '',
    'File with one line per JSON document published for SMTP-received mail (one per accepted recipient); empty = off. Reopened on SIGHUP and when rotated away',
  ),
  'received-log-format': logging(text({ describe: 'template' }), '{$json}', 'Template of a received-log line ({$json} = the document without its mime, {$report}, {$date}, {$time})'),

  // ------------------------------------------------------------------ cluster (reference §9)
  'cluster-address': cluster(amqpAddresses({ required: false }), '', 'Broker for cluster messages; empty = rabbitmq-address'),
  'cluster-exchange': cluster(noSpaces, 'cluster', 'Exchange for cluster messages (fanout): {"reload": true} after a rule change, delivery nodes\' {"hello": ...} announcements (owned source IPs, own queue)'),
  'cluster-verify': cluster(bool, 'true', 'Verify the cluster broker certificate for amqps://'),
  'cluster-timeout': cluster(positiveDuration, '1', 'Seconds mtaq cluster list (--list-cluster) listens for answers; a starting delivery node waits at most this long for the others\' announcements'),

  // ------------------------------------------------------------------ process
  lock: proc(text({ describe: 'path' }), '', 'PID file that also keeps a second instance with the same file from starting; empty = none (must differ per instance)'),
  user: proc(noSpaces, '', 'Drop privileges to this user (name or uid) after binding ports; empty = stay'),
  group: proc(noSpaces, '', 'With user: the group (name or gid) to run as; empty = the user\'s own group'),
  'config-strict': proc(bool, 'false', 'Treat every configuration warning (unknown or unsupported keys, ignored settings) as an error: exit 78'),

  // ------------------------------------------------------------------ mtaq worker (consumer scripts)
  'worker-script': worker(text({ describe: 'path' }), '', 'ES module run by mtaq worker: its default export gets each rabbitmq-inbox message and returns message, message[] or null'),
  'worker-concurrency': worker(atLeastOne, '10', 'Messages mtaq worker hands to the script at once (at most rabbitmq-qos are fetched)'),
  'worker-failure-queue': worker(queueName, '', 'Queue for messages the script failed on, with a process/error result; empty = <rabbitmq-inbox>.failed'),
  'worker-retries': worker(int({ min: 0 }), '3', 'Times a message whose script error is transient is tried again (through a delay queue) before it goes to the failure queue'),
  'worker-retry-delay': worker(positiveDuration, '30', 'Seconds a message waits in the delay queue before a retry of a transient script error'),

  // ------------------------------------------------------------------ HTTP server (health, metrics, REST)
  'www-ip': www(oneIp, '127.0.0.1', 'Address of the HTTP server (health, readiness, metrics, REST API); a non-loopback address needs www-token'),
  'www-port': www(optionalPort, '', 'Port of the HTTP server, one per process; empty = no HTTP server'),
  'www-token': www(
    tokenList,
    '',
    'Bearer tokens for the REST API (and /metrics off loopback): a list, or file:///path (or /path) of a file with one token per line, re-read on SIGHUP',
    { secret: true },
  ),
  'www-metrics-public': www(bool, 'false', 'Serve /metrics without a token even when www-ip is not a loopback address'),
  'www-auth': www(
    url(AUTH_SCHEMES, { example: 'hardcoded://admin:secret', mask: maskAuthUrl }),
    '',
    'Login for the console at / (same schemes as smtp-auth); empty = log in with a www-token as the password, and no console without www-token either',
  ),

  // ------------------------------------------------------------------ legacy (MailerQ 3.x)
  'rabbitmq-host': legacy(noSpaces, '', 'Broker host; builds rabbitmq-address when that is not set', buildsAddress),
  'rabbitmq-user': legacy(text(), '', 'Broker user; builds rabbitmq-address when that is not set', buildsAddress),
  'rabbitmq-password': legacy(secretText, '', 'Broker password; builds rabbitmq-address when that is not set', { ...buildsAddress, secret: true }),
  'rabbitmq-vhost': legacy(text(), '', 'Broker vhost; builds rabbitmq-address when that is not set', buildsAddress),
  license: legacy(text({ describe: 'path' }), '', 'MailerQ licence file (accepted, ignored)', notYet),
} as const satisfies Readonly<Record<string, KeyDef<unknown>>>;

export type Schema = typeof schema;
export type ConfigKey = keyof Schema;
export type ValueOf<K extends ConfigKey> = Schema[K] extends KeyDef<infer T> ? T : never;

/** The effective configuration: one property per canonical key, deep-frozen. */
export type Config = { readonly [K in ConfigKey]: ValueOf<K> };

export const configKeys: readonly ConfigKey[] = Object.freeze(Object.keys(schema) as ConfigKey[]);

const byName = new Map<string, ConfigKey>();
for (const key of configKeys) {
  byName.set(key, key);
  for (const alias of schema[key].aliases) byName.set(alias, key);
}

/** Canonical key for a name or alias (case-insensitive), or undefined for unknown names. */
export function lookupKey(name: string): ConfigKey | undefined {
  return byName.get(name.toLowerCase());
}

/** Every accepted name (canonical keys and aliases), for suggestions. */
export function knownNames(): IterableIterator<string> {
  return byName.keys();
}

export function keyDef(key: ConfigKey): KeyDef<unknown> {
  return schema[key];
}

/** One row of `mtaq --help` / the README table. */
export interface KeyInfo {
  readonly key: ConfigKey;
  readonly group: Group;
  readonly status: KeyStatus;
  readonly type: string;
  /** Default in file syntax; `''` means empty. */
  readonly default: string;
  readonly description: string;
  readonly aliases: readonly string[];
  readonly secret: boolean;
}

export const keyInfo: readonly KeyInfo[] = Object.freeze(
  configKeys.map((key) => {
    const def = keyDef(key);
    return Object.freeze({
      key,
      group: def.group,
      status: def.status,
      type: def.type.describe,
      default: def.default,
      description: def.description,
      aliases: def.aliases,
      secret: def.secret,
    });
  }),
);
