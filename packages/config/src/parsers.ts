import { CidrList, isIp, normalizeIp } from '@mtaq/net';

/** Thrown by a parser; the loader adds where the text came from. */
export class InvalidValue extends Error {
  constructor(
    readonly expected: string,
    readonly reason?: string,
  ) {
    super(reason === undefined ? `expected ${expected}` : `expected ${expected} (${reason})`);
    this.name = 'InvalidValue';
  }
}

/** How one kind of setting is read from and written back to the config file syntax. */
export interface ValueType<T> {
  /** Short name of the syntax for help text, e.g. `port list`. */
  readonly describe: string;
  /** @throws InvalidValue */
  parse(text: string): T;
  /** File syntax that parses back to the same value. */
  format(value: T): string;
  /** Like `format`, with credentials replaced by `********`. */
  mask?(value: T): string;
}

export const MASK = '********';

/** Every list key takes `,` or `;` (§2.1 design choice), so MailerQ files using either work. */
export function splitList(text: string): string[] {
  return text
    .split(/[,;]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

// ---------------------------------------------------------------- text

export function text(options: { describe?: string; spaces?: boolean } = {}): ValueType<string> {
  const describe = options.describe ?? 'text';
  return {
    describe,
    parse(value) {
      if (options.spaces === false && /\s/.test(value)) throw new InvalidValue(`a ${describe} without spaces`);
      return value;
    },
    format: (value) => value,
  };
}

/** A plain-text credential: shown masked by `formatConfig`. */
export const secretText: ValueType<string> = {
  describe: 'text (secret)',
  parse: (value) => value,
  format: (value) => value,
  mask: (value) => (value === '' ? '' : MASK),
};

export const textList: ValueType<readonly string[]> = {
  describe: 'list',
  parse: splitList,
  format: (value) => value.join(','),
};

/** AMQP refuses names over 255 bytes and `amq.`-prefixed declarations; catch both before connecting. */
export const queueName: ValueType<string> = {
  describe: 'queue name',
  parse(value) {
    const expected = 'a queue name (empty = none)';
    if (Buffer.byteLength(value) > 255) throw new InvalidValue(expected, 'longer than 255 bytes');
    if (/[\s\p{Cc}]/u.test(value)) throw new InvalidValue(expected, 'contains white space');
    if (value.startsWith('amq.')) throw new InvalidValue(expected, 'names starting with "amq." are reserved by RabbitMQ');
    return value;
  },
  format: (value) => value,
};

// ---------------------------------------------------------------- booleans and numbers

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function parseBoolean(value: string): boolean | undefined {
  const lower = value.toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  return undefined;
}

export const bool: ValueType<boolean> = {
  describe: 'boolean',
  parse(value) {
    const parsed = parseBoolean(value);
    if (parsed === undefined) throw new InvalidValue('a boolean (true/false, yes/no, on/off, 1/0)');
    return parsed;
  },
  format: (value) => String(value),
};

export interface IntOptions {
  readonly min?: number;
  readonly max?: number;
  /** Accept an empty value as this number (keys where empty means "unlimited"/"none"). */
  readonly emptyAs?: number;
}

export function int(options: IntOptions = {}): ValueType<number> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, emptyAs } = options;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  const expected = `an integer ${range}${emptyAs === undefined ? '' : ' or empty'}`;
  return {
    describe: `integer ${range}`,
    parse(value) {
      if (value === '' && emptyAs !== undefined) return emptyAs;
      if (!/^\d+$/.test(value)) throw new InvalidValue(expected);
      const n = Number(value);
      if (n < min || n > max) throw new InvalidValue(expected, 'out of range');
      return n;
    },
    format: (value) => String(value),
  };
}

/** A decimal such as a spam score (`5`, `6.5`, `-1`); empty = undefined (someone else's default). */
export const optionalNumber: ValueType<number | undefined> = {
  describe: 'number',
  parse(value) {
    if (value === '') return undefined;
    if (!/^-?\d+(\.\d+)?$/.test(value)) throw new InvalidValue('a number such as 5 or 6.5, or empty');
    return Number(value);
  },
  format: (value) => (value === undefined ? '' : String(value)),
};

function parsePort(item: string): number | undefined {
  if (!/^\d{1,5}$/.test(item)) return undefined;
  const n = Number(item);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export const port: ValueType<number> = {
  describe: 'port',
  parse(value) {
    const n = parsePort(value);
    if (n === undefined) throw new InvalidValue('a port number from 1 to 65535');
    return n;
  },
  format: (value) => String(value),
};

export const portList: ValueType<readonly number[]> = {
  describe: 'port list',
  parse(value) {
    const expected = 'a port list like "25,2525,1024-1026"';
    const ports: number[] = [];
    const add = (n: number): void => {
      if (!ports.includes(n)) ports.push(n);
    };
    const items = splitList(value);
    // Point at the bad item only when there is more than one to choose from.
    const which = (item: string, why: string): string | undefined => (items.length > 1 ? `"${item}" ${why}` : undefined);
    for (const item of items) {
      const range = /^(\d+)\s*-\s*(\d+)$/.exec(item);
      if (range?.[1] !== undefined && range[2] !== undefined) {
        const low = parsePort(range[1]);
        const high = parsePort(range[2]);
        if (low === undefined || high === undefined) throw new InvalidValue(expected, `"${item}": ports are 1-65535`);
        if (low > high) throw new InvalidValue(expected, `"${item}": the range runs backwards`);
        for (let n = low; n <= high; n++) add(n);
        continue;
      }
      const n = parsePort(item);
      if (n === undefined) {
        throw new InvalidValue(expected, /^\d+$/.test(item) ? `"${item}": ports are 1-65535` : which(item, 'is not a port'));
      }
      add(n);
    }
    return ports;
  },
  format(value) {
    // Collapse runs of 3+ consecutive ports back into ranges; order is preserved.
    const parts: string[] = [];
    for (let i = 0; i < value.length; ) {
      let j = i;
      while (j + 1 < value.length && value[j + 1] === (value[j] as number) + 1) j++;
      parts.push(j - i >= 2 ? `${value[i]}-${value[j]}` : value.slice(i, j + 1).join(','));
      i = j + 1;
    }
    return parts.join(',');
  },
};

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** Bytes; `emptyAs` lets keys where empty means "system default" accept an empty value. */
export function size(options: { emptyAs?: number } = {}): ValueType<number> {
  const { emptyAs } = options;
  const expected = `a size like "100MB" (bytes, or a whole number with B, KB, MB or GB)${emptyAs === undefined ? '' : ' or empty'}`;
  return {
    describe: 'size (bytes, or with B/KB/MB/GB)',
    parse(value) {
      if (value === '' && emptyAs !== undefined) return emptyAs;
      const m = /^(\d+)\s*([a-z]*)$/i.exec(value);
      const factor = m?.[2] === undefined ? undefined : SIZE_UNITS[m[2].toLowerCase()];
      if (m?.[1] === undefined || factor === undefined) throw new InvalidValue(expected);
      const n = Number(m[1]) * factor;
      if (!Number.isSafeInteger(n)) throw new InvalidValue(expected, 'too large');
      return n;
    },
    format(value) {
      for (const [unit, factor] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) {
        if (value >= factor && value % factor === 0) return `${value / factor}${unit}`;
      }
      return String(value);
    },
  };
}

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

export interface DurationOptions {
  /** Zero is not allowed (`dns-min-ttl`, C8). */
  readonly positive?: boolean;
  /** Accept an empty value as this many seconds (0 = "use the system default"). */
  readonly emptyAs?: number;
}

function parseSeconds(item: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?$/i.exec(item);
  if (m?.[1] === undefined) return undefined;
  const factor = DURATION_UNITS[(m[2] ?? '').toLowerCase()];
  if (factor === undefined) return undefined;
  const seconds = Math.round(Number(m[1]) * factor * 1e6) / 1e6;
  return Number.isFinite(seconds) ? seconds : undefined;
}

function formatSeconds(value: number): string {
  return String(value);
}

export function duration(options: DurationOptions = {}): ValueType<number> {
  const { positive = false, emptyAs } = options;
  const bound = positive ? ' greater than 0' : '';
  const expected = `a duration${bound} in seconds like "300", "0.5" or with a unit like "10m" (ms, s, m, h, d)${emptyAs === undefined ? '' : ' or empty'}`;
  return {
    describe: 'duration (seconds, or with ms/s/m/h/d)',
    parse(value) {
      if (value === '' && emptyAs !== undefined) return emptyAs;
      const seconds = parseSeconds(value);
      if (seconds === undefined) throw new InvalidValue(expected);
      if (positive && seconds <= 0) throw new InvalidValue(expected, 'zero is not allowed');
      return seconds;
    },
    format: formatSeconds,
  };
}

export const durationList: ValueType<readonly number[]> = {
  describe: 'list of durations (seconds)',
  parse(value) {
    const expected = 'a list of durations greater than 0, like "600,600,1800,3600"';
    const list = splitList(value);
    if (list.length === 0) throw new InvalidValue(expected, 'at least one is needed');
    return list.map((item) => {
      const seconds = parseSeconds(item);
      if (seconds === undefined || seconds <= 0) throw new InvalidValue(expected, `"${item}"`);
      return seconds;
    });
  },
  format: (value) => value.map(formatSeconds).join(','),
};

// ---------------------------------------------------------------- enumerations

function describeChoices(values: readonly string[]): string {
  const named = values.filter((v) => v !== '');
  return named.join(', ') + (named.length < values.length ? ' or empty' : '');
}

/** One of `values`, matched case-insensitively and stored in the case written in `values`. */
export function oneOf<const V extends string>(values: readonly V[]): ValueType<V> {
  const expected = `one of ${describeChoices(values)}`;
  return {
    describe: values.map((v) => (v === '' ? '(empty)' : v)).join('|'),
    parse(value) {
      const found = values.find((v) => v.toLowerCase() === value.toLowerCase());
      if (found === undefined) throw new InvalidValue(expected);
      return found;
    },
    format: (value) => value,
  };
}

/** A list drawn from `values`: e.g. `smtp-check: spf,dkim`. */
export function someOf<const V extends string>(values: readonly V[]): ValueType<readonly V[]> {
  const expected = `a list of ${values.join(', ')}`;
  return {
    describe: `list of ${values.join(',')}`,
    parse(value) {
      const out: V[] = [];
      for (const item of splitList(value)) {
        const found = values.find((v) => v.toLowerCase() === item.toLowerCase());
        if (found === undefined) throw new InvalidValue(expected, `unknown "${item}"`);
        if (!out.includes(found)) out.push(found);
      }
      return out;
    },
    format: (value) => value.join(','),
  };
}

const NOTIFY = ['SUCCESS', 'FAILURE', 'DELAY'];

/** `NEVER`, or any of SUCCESS/FAILURE/DELAY, kept in the comma form RFC 3461 `NOTIFY=` and the JSON use. */
export const dsnNotify: ValueType<string> = {
  describe: 'NEVER or list of SUCCESS,FAILURE,DELAY',
  parse(value) {
    const expected = 'NEVER, or a list of SUCCESS, FAILURE, DELAY (or empty)';
    const items = [...new Set(splitList(value).map((item) => item.toUpperCase()))];
    if (items.includes('NEVER')) {
      if (items.length > 1) throw new InvalidValue(expected, 'NEVER cannot be combined');
      return 'NEVER';
    }
    const bad = items.find((item) => !NOTIFY.includes(item));
    if (bad !== undefined) throw new InvalidValue(expected, `unknown "${bad}"`);
    return NOTIFY.filter((n) => items.includes(n)).join(',');
  },
  format: (value) => value,
};

// ---------------------------------------------------------------- addresses

export const cidrList: ValueType<CidrList> = {
  describe: 'list of IP addresses / CIDR ranges',
  parse(value) {
    try {
      return CidrList.parse(value);
    } catch (err) {
      throw new InvalidValue('a list of IP addresses or CIDR ranges like "192.168.0.0/16;10.0.0.0/8"', (err as Error).message);
    }
  },
  format: (value) => value.toString(),
};

export const ipList: ValueType<readonly string[]> = {
  describe: 'list of IP addresses',
  parse(value) {
    const out: string[] = [];
    for (const item of splitList(value)) {
      if (!isIp(item)) throw new InvalidValue('a list of IP addresses like "1.2.3.4;4.5.6.7"', `"${item}" is not an IP address`);
      const ip = normalizeIp(item);
      if (!out.includes(ip)) out.push(ip);
    }
    return out;
  },
  format: (value) => value.join(';'),
};

/** `scheme://user:password@rest` → password masked; other URLs unchanged. */
export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:)[^@/?#]*@/i, `$1${MASK}@`);
}

/** A URL with one of `schemes` (or empty = off); any password in it is masked in `formatConfig`. */
export function url(schemes: readonly string[], options: { example: string; mask?: (value: string) => string }): ValueType<string> {
  const expected = `a URL like "${options.example}" (schemes: ${schemes.join(', ')}) or empty`;
  return {
    describe: `URL (${schemes.join('|')})`,
    parse(value) {
      if (value === '') return value;
      const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(value);
      if (m?.[1] === undefined || m[2] === undefined) throw new InvalidValue(expected);
      if (!schemes.includes(m[1].toLowerCase())) throw new InvalidValue(expected, `unknown scheme "${m[1]}"`);
      if (m[2] === '') throw new InvalidValue(expected, 'nothing after "://"');
      if (/\s/.test(value)) throw new InvalidValue(expected, 'contains white space');
      return value;
    },
    format: (value) => value,
    mask: options.mask ?? maskUrl,
  };
}

/** `hardcoded://alice:pw,bob:pw2` keeps the user names visible; everything else masks like any URL. */
export function maskAuthUrl(value: string): string {
  const m = /^(hardcoded:\/\/)(.*)$/i.exec(value);
  if (m?.[1] === undefined || m[2] === undefined) return maskUrl(value);
  const pairs = m[2].split(',').map((pair) => {
    const colon = pair.indexOf(':');
    return colon < 0 ? pair : `${pair.slice(0, colon)}:${MASK}`;
  });
  return m[1] + pairs.join(',');
}

/** `1.2.3.4`, `1.2.3.4:5353` or `[::1]:5353`: name servers for node's dns Resolver. */
export const serverList: ValueType<readonly string[]> = {
  describe: 'list of IP[:port]',
  parse(value) {
    return splitList(value).map((item) => {
      const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(item) ?? /^([^:]+)(?::(\d+))?$/.exec(item);
      const ip = m?.[1];
      const portText = m?.[2];
      if (!ip || !isIp(ip) || (portText !== undefined && !(Number(portText) >= 1 && Number(portText) <= 65535))) {
        throw new InvalidValue('name servers like "127.0.0.1:5353; 9.9.9.9"', `"${item}" is not IP[:port]`);
      }
      return item;
    });
  },
  format: (value) => value.join(';'),
};

/** `name=value` pairs separated by `;`, e.g. `bulk=10.0.0.5,10.0.0.6; trans=10.0.0.7`. */
export function pairList<T>(describe: string, example: string, parseValue: (v: string, key: string) => T, formatValue: (v: T) => string): ValueType<ReadonlyMap<string, T>> {
  return {
    describe,
    parse(value) {
      const out = new Map<string, T>();
      for (const item of value.split(';').map((s) => s.trim()).filter(Boolean)) {
        const eq = item.indexOf('=');
        const key = item.slice(0, eq).trim();
        if (eq <= 0 || !key) throw new InvalidValue(example, `"${item}" has no name=value`);
        out.set(key, parseValue(item.slice(eq + 1).trim(), key));
      }
      return out;
    },
    format: (value) => [...value].map(([k, v]) => `${k}=${formatValue(v)}`).join('; '),
  };
}

// ---------------------------------------------------------------- delivery limits

/**
 * One `delivery-limits` rule. `source` is a normalised IP, a pool name, `*` (each source IP on its
 * own) or `all` (every source together); `domain` is lower case or `*`. A limit of 0 is unlimited;
 * a missing one is inherited from a less specific rule.
 */
export interface LimitRule {
  readonly source: string;
  readonly domain: string;
  readonly connections?: number;
  readonly messagesPerMinute?: number;
}

const LIMIT_FIELDS: Readonly<Record<string, 'connections' | 'messagesPerMinute'>> = {
  connections: 'connections',
  messages: 'messagesPerMinute',
};

const DOMAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const POOL = /^[\w.-]+$/;

function parseLimitRule(item: string, expected: string): LimitRule {
  const [sourceText = '', domainText = '', ...settings] = item.split(/\s+/);
  const bad = (why: string): InvalidValue => new InvalidValue(expected, `"${item}": ${why}`);
  if (domainText === '' || domainText.includes('=') || sourceText.includes('=')) throw bad('SOURCE and DOMAIN come first');
  const lowerSource = sourceText.toLowerCase();
  let source: string;
  if (lowerSource === '*' || lowerSource === 'all') source = lowerSource;
  else if (isIp(sourceText)) source = normalizeIp(sourceText);
  // A typo'd address would otherwise silently become a pool nobody is in.
  else if (/^[\d.:]+$/.test(sourceText) || !POOL.test(sourceText)) throw bad(`"${sourceText}" is neither an IP address nor a pool name`);
  else source = sourceText;
  const domain = domainText.toLowerCase().replace(/\.$/, '');
  if (domain !== '*' && !DOMAIN.test(domain)) throw bad(`"${domainText}" is not a domain name or *`);

  const rule: { source: string; domain: string; connections?: number; messagesPerMinute?: number } = { source, domain };
  for (const setting of settings) {
    const m = /^([a-z-]+)=(\d+)$/i.exec(setting);
    const field = m?.[1] === undefined ? undefined : LIMIT_FIELDS[m[1].toLowerCase()];
    if (m?.[2] === undefined || field === undefined) throw bad(`"${setting}" is not connections=N or messages=N`);
    if (rule[field] !== undefined) throw bad(`${m[1]} is given twice`);
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n)) throw bad(`${m[1]} is too large`);
    rule[field] = n;
  }
  if (rule.connections === undefined && rule.messagesPerMinute === undefined) throw bad('sets neither connections= nor messages=');
  return rule;
}

/** `delivery-limits`: `SOURCE DOMAIN [connections=N] [messages=M]` rules separated by `;` (or `,`, like every list). */
export const limitRules: ValueType<readonly LimitRule[]> = {
  describe: 'list of "SOURCE DOMAIN connections=N messages=M" rules',
  parse(value) {
    const expected = 'rules like "* * connections=10; 10.0.0.5 example.com connections=2 messages=100" (SOURCE = IP, pool, * or all; DOMAIN = domain or *)';
    return splitList(value).map((item) => parseLimitRule(item, expected));
  },
  format: (value) =>
    value
      .map((rule) =>
        [
          rule.source,
          rule.domain,
          ...(rule.connections === undefined ? [] : [`connections=${rule.connections}`]),
          ...(rule.messagesPerMinute === undefined ? [] : [`messages=${rule.messagesPerMinute}`]),
        ].join(' '),
      )
      .join('; '),
};
