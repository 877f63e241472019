import { createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { ExclusiveFieldsError, RuleValidationError } from './errors.js';
import { RULE_KINDS, type MatchType, type RuleKind, type RuleTables } from './types.js';

/** How one row field is stored. `json` is text holding JSON in both dialects. */
export type ColumnType = 'text' | 'int' | 'bool' | 'json';

export interface Column {
  readonly field: string;
  readonly column: string;
  readonly type: ColumnType;
}

export interface TableDef {
  readonly table: string;
  /** Every column except id and created, in insert order. */
  readonly columns: readonly Column[];
  /** Unique fields, named in the error a duplicate gets. */
  readonly unique: readonly string[];
}

const c = (field: string, type: ColumnType = 'text', column = field): Column => ({ field, column, type });
const SELECTOR = [c('pool'), c('mta'), c('domain'), c('ip'), c('tag')];

export const TABLES: Readonly<Record<RuleKind, TableDef>> = {
  suppressions: { table: 'suppressions', columns: [c('type'), c('value'), c('code', 'int'), c('extended'), c('description')], unique: ['type', 'value'] },
  pauses: { table: 'pauses', columns: [...SELECTOR, c('cluster', 'bool'), c('owner'), c('description')], unique: [] },
  errors: {
    table: 'errors',
    columns: [...SELECTOR, c('cluster', 'bool'), c('owner'), c('code', 'int'), c('extended'), c('description')],
    unique: [],
  },
  patterns: {
    table: 'patterns',
    columns: [
      ...SELECTOR,
      c('pattern'),
      c('match', 'text', 'match_type'),
      c('priority', 'int'),
      c('continue', 'bool', 'continue_evaluating'),
      c('actions', 'json'),
      c('description'),
    ],
    unique: [],
  },
  floods: {
    table: 'floods',
    columns: [
      ...SELECTOR,
      c('pattern'),
      c('match', 'text', 'match_type'),
      c('pauseSeconds', 'int', 'pause_seconds'),
      c('reducedSeconds', 'int', 'reduced_seconds'),
      c('connections', 'int'),
      c('messagesPerMinute', 'int', 'messages_per_minute'),
      c('description'),
    ],
    unique: [],
  },
  pools: { table: 'pools', columns: [c('name'), c('description')], unique: ['name'] },
  poolips: { table: 'poolips', columns: [c('pool'), c('ip')], unique: ['ip'] },
  externalmtas: { table: 'externalmtas', columns: [c('ip'), c('hostname'), c('description')], unique: ['ip'] },
  dkimkeys: {
    table: 'dkimkeys',
    columns: [c('domain'), c('selector'), c('key'), c('headers', 'json'), c('canonicalization')],
    unique: ['domain', 'selector'],
  },
};

export function isKind(kind: string): kind is RuleKind {
  return (RULE_KINDS as readonly string[]).includes(kind);
}

// ------------------------------------------------------------------------------------ from the database

/** A database row (column names) → the typed row (field names). */
export function fromDb<K extends RuleKind>(kind: K, raw: Record<string, unknown>): RuleTables[K] {
  const out: Record<string, unknown> = { id: Number(raw['id']) };
  for (const col of TABLES[kind].columns) {
    const v = raw[col.column];
    if (v === null || v === undefined) out[col.field] = col.type === 'json' && kind === 'patterns' ? {} : null;
    else if (col.type === 'int') out[col.field] = Number(v);
    else if (col.type === 'bool') out[col.field] = v === true || v === 1 || v === '1' || v === 't';
    else if (col.type === 'json') out[col.field] = typeof v === 'string' ? JSON.parse(v) : v;
    else out[col.field] = String(v);
  }
  const created = raw['created'];
  out['created'] = created instanceof Date ? created.toISOString() : String(created);
  return out as unknown as RuleTables[K];
}

/** A validated row → values in column order, as the dialect stores them. */
export function toDb(kind: RuleKind, row: Record<string, unknown>, dialect: 'sqlite' | 'postgresql'): unknown[] {
  return TABLES[kind].columns.map((col) => {
    const v = row[col.field];
    if (v === null || v === undefined) return null;
    if (col.type === 'bool') return dialect === 'sqlite' ? (v ? 1 : 0) : Boolean(v);
    if (col.type === 'json') return JSON.stringify(v);
    return v;
  });
}

// ------------------------------------------------------------------------------------ validation

const DOMAIN = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const NAME = /^[\w.-]{1,100}$/;
const EXTENDED = /^[245]\.\d{1,3}\.\d{1,3}$/;
const MATCH_ALIASES: Readonly<Record<string, MatchType>> = {
  exact: 'exact',
  substring: 'substring',
  substr: 'substring',
  wildcard: 'wildcard',
  fnmatch: 'wildcard',
  regex: 'regex',
  regexp: 'regex',
};
const OVERRIDES = ['fatal', 'individual', 'strange', 'greylisted', 'fallback'];

class Check {
  readonly out: Record<string, unknown> = {};
  readonly used = new Set<string>();
  constructor(
    readonly kind: RuleKind,
    readonly input: Record<string, unknown>,
  ) {}

  fail(field: string, why: string): never {
    throw new RuleValidationError(this.kind, [field], `${this.kind}: "${field}" ${why}`);
  }

  /** The raw value; '', null and (for selectors) '*' count as absent. */
  raw(field: string, star = false): unknown {
    this.used.add(field);
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') {
      const t = v.trim();
      if (t === '' || (star && t === '*')) return undefined;
      return t;
    }
    return v;
  }

  text(field: string, opts: { required?: boolean; star?: boolean; max?: number; test?: (s: string) => boolean; what?: string } = {}): string | null {
    const v = this.raw(field, opts.star);
    if (v === undefined) {
      if (opts.required) this.fail(field, 'is required');
      return (this.out[field] = null);
    }
    if (typeof v !== 'string') this.fail(field, 'must be a string');
    if (v.length > (opts.max ?? 1000)) this.fail(field, `is longer than ${opts.max ?? 1000} characters`);
    if (opts.test && !opts.test(v)) this.fail(field, `must be ${opts.what ?? 'valid'}, not "${v}"`);
    return (this.out[field] = v);
  }

  domain(field: string, required = false): string | null {
    const v = this.text(field, { required, star: !required, test: (s) => DOMAIN.test(s.toLowerCase().replace(/\.$/, '')), what: 'a domain name' });
    return (this.out[field] = v === null ? null : v.toLowerCase().replace(/\.$/, ''));
  }

  ip(field: string, required = false): string | null {
    const v = this.text(field, { required, star: !required, test: (s) => isIP(s) !== 0, what: 'an IP address' });
    return (this.out[field] = v === null ? null : v.toLowerCase());
  }

  int(field: string, opts: { required?: boolean; min?: number; max?: number; dflt?: number | null } = {}): number | null {
    const v = this.raw(field);
    if (v === undefined) {
      if (opts.required) this.fail(field, 'is required');
      return (this.out[field] = opts.dflt ?? null);
    }
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) this.fail(field, 'must be a whole number');
    if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max))
      this.fail(field, `must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}, not ${n}`);
    return (this.out[field] = n);
  }

  bool(field: string, dflt: boolean): boolean {
    const v = this.raw(field);
    let b: boolean;
    if (v === undefined) b = dflt;
    else if (typeof v === 'boolean') b = v;
    else if (v === 1 || v === 0) b = v === 1;
    else if (typeof v === 'string' && /^(true|1|on|yes)$/i.test(v)) b = true;
    else if (typeof v === 'string' && /^(false|0|off|no)$/i.test(v)) b = false;
    else this.fail(field, 'must be true or false');
    return (this.out[field] = b);
  }

  json(field: string): unknown {
    const v = this.raw(field);
    if (typeof v === 'string') {
      try {
        return JSON.parse(v);
      } catch {
        this.fail(field, 'must be JSON');
      }
    }
    return v;
  }

  selector(withIp: boolean): void {
    const pool = this.text('pool', { star: true, test: (s) => NAME.test(s), what: 'a pool name' });
    const mta = this.ip('mta');
    const domain = this.domain('domain');
    const ip = withIp ? this.ip('ip') : ((this.out['ip'] = null), this.raw('ip') === undefined ? null : this.fail('ip', 'is not a field of this table'));
    this.text('tag', { star: true, max: 200 });
    if (pool !== null && mta !== null) throw new ExclusiveFieldsError(this.kind, ['pool', 'mta']);
    if (domain !== null && ip !== null) throw new ExclusiveFieldsError(this.kind, ['domain', 'ip']);
  }

  code(): void {
    this.int('code', { required: true, min: 200, max: 599 });
    this.text('extended', { test: (s) => EXTENDED.test(s), what: 'an enhanced status like 5.1.1' });
    this.text('description', { max: 1000 });
  }

  pattern(): void {
    const match = this.raw('match') ?? 'substring';
    const m = typeof match === 'string' ? MATCH_ALIASES[match.toLowerCase()] : undefined;
    if (m === undefined) this.fail('match', 'must be exact, substring, wildcard or regex');
    this.out['match'] = m;
    const p = this.text('pattern', { required: true, max: 1000 }) as string;
    if (m === 'regex') {
      try {
        new RegExp(p, 'i');
      } catch (err) {
        this.fail('pattern', `is not a regular expression: ${(err as Error).message}`);
      }
    }
  }

  done(): Record<string, unknown> {
    const unknown = Object.keys(this.input).filter((k) => !this.used.has(k) && k !== 'id' && k !== 'created');
    if (unknown.length > 0) throw new RuleValidationError(this.kind, unknown, `${this.kind}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}`);
    return this.out;
  }
}

function strings(check: Check, field: string, v: unknown, test?: (s: string) => boolean): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '' && (test === undefined || test(s))))
    check.fail(field, 'must be a list of ' + (test ? 'IP addresses' : 'strings'));
  return list as string[];
}

function actions(check: Check): void {
  const v = check.json('actions') ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) check.fail('actions', 'must be an object');
  const a = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(a)) {
    const val = a[key];
    if (val === undefined || val === null) continue;
    switch (key) {
      case 'ips':
      case 'tags': {
        if (typeof val !== 'object' || Array.isArray(val)) check.fail(`actions.${key}`, 'must be an object like {"add": [...]}');
        const ops = key === 'ips' ? ['set', 'add', 'remove'] : ['add', 'remove'];
        const o: Record<string, string[]> = {};
        for (const [op, list] of Object.entries(val as Record<string, unknown>)) {
          if (!ops.includes(op)) check.fail(`actions.${key}.${op}`, `is not one of ${ops.join(', ')}`);
          const l = strings(check, `actions.${key}.${op}`, list, key === 'ips' ? (s) => isIP(s) !== 0 : undefined);
          if (l !== undefined) o[op] = l;
        }
        out[key] = o;
        break;
      }
      case 'result':
        if (val !== 'fail' && val !== 'retry') check.fail('actions.result', 'must be "fail" or "retry"');
        out[key] = val;
        break;
      case 'after': {
        const n = typeof val === 'string' && /^\d+$/.test(val) ? Number(val) : val;
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) check.fail('actions.after', 'must be a number of seconds');
        out[key] = n;
        break;
      }
      case 'message':
      case 'properties': {
        if (typeof val !== 'object' || Array.isArray(val)) check.fail(`actions.${key}`, 'must be an object');
        if (key === 'properties')
          for (const flag of OVERRIDES) {
            const f = (val as Record<string, unknown>)[flag];
            if (f !== undefined && typeof f !== 'boolean') check.fail(`actions.properties.${flag}`, 'must be true or false');
          }
        out[key] = val;
        break;
      }
      default:
        check.fail(`actions.${key}`, 'is not an action (ips, result, after, tags, message, properties)');
    }
  }
  if (out['after'] !== undefined && out['result'] === 'fail') check.fail('actions.after', 'only applies when the result is "retry"');
  check.out['actions'] = out;
}

const CANONICALIZATIONS = ['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple', 'relaxed', 'simple'];

/**
 * Checks and normalises a row given to `create`: trims, lower-cases domains and addresses, turns
 * '', '*' and null selectors into null, coerces form strings ("true", "421"), and refuses unknown
 * fields and exclusive pairs (`pool`+`mta`, `domain`+`ip`) with a RuleValidationError naming them.
 */
export function validateRow(kind: RuleKind, input: unknown, owner: string | null): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RuleValidationError(kind, [], `${kind}: expected an object`);
  const check = new Check(kind, input as Record<string, unknown>);
  switch (kind) {
    case 'suppressions': {
      const type = check.text('type', { required: true, test: (s) => s === 'address' || s === 'domain', what: '"address" or "domain"' });
      if (type === 'domain') check.domain('value', true);
      else {
        const v = check.text('value', { required: true, max: 320, test: (s) => /^[^@\s]+@[^@\s]+$/.test(s), what: 'an e-mail address' }) as string;
        check.out['value'] = v.toLowerCase();
      }
      check.code();
      break;
    }
    case 'pauses':
    case 'errors':
      check.selector(true);
      check.bool('cluster', true);
      check.text('owner', { max: 100 });
      if (check.out['owner'] === null) check.out['owner'] = owner;
      if (kind === 'errors') check.code();
      else check.text('description');
      break;
    case 'patterns':
      check.selector(true);
      check.pattern();
      check.int('priority', { dflt: 0, min: -1_000_000, max: 1_000_000 });
      check.bool('continue', false);
      actions(check);
      check.text('description');
      break;
    case 'floods':
      check.selector(true);
      check.pattern();
      check.int('pauseSeconds', { dflt: 0, min: 0, max: 86400 * 7 });
      check.int('reducedSeconds', { dflt: 0, min: 0, max: 86400 * 7 });
      check.int('connections', { min: 0 });
      check.int('messagesPerMinute', { min: 0 });
      check.text('description');
      break;
    case 'pools':
      check.text('name', { required: true, test: (s) => NAME.test(s), what: 'a pool name (letters, digits, _ . -)' });
      check.text('description');
      break;
    case 'poolips':
      check.text('pool', { required: true, test: (s) => NAME.test(s), what: 'a pool name' });
      check.ip('ip', true);
      break;
    case 'externalmtas':
      check.ip('ip', true);
      check.text('hostname', { test: (s) => DOMAIN.test(s.toLowerCase()), what: 'a host name' });
      check.text('description');
      break;
    case 'dkimkeys': {
      check.domain('domain', true);
      check.text('selector', { required: true, test: (s) => DOMAIN.test(s.toLowerCase()), what: 'a selector (DNS labels)' });
      const key = check.text('key', { required: true, max: 20000 }) as string;
      try {
        createPrivateKey(key);
      } catch {
        check.fail('key', 'must be a PEM private key');
      }
      const h = strings(check, 'headers', check.json('headers'));
      check.out['headers'] = h ?? null;
      check.text('canonicalization', { test: (s) => CANONICALIZATIONS.includes(s), what: CANONICALIZATIONS.join(', ') });
      break;
    }
  }
  return check.done();
}
