import { hostname } from 'node:os';
import { legacyAmqpAddress } from './amqp.js';
import { ConfigError, type ConfigWarning, type Origin } from './errors.js';
import { InvalidValue, maskUrl } from './parsers.js';
import { configKeys, keyDef, type Config, type ConfigKey } from './schema.js';
import type { Setting } from './sources.js';
import { unsupportedWarnings } from './unsupported.js';
import { validate } from './validate.js';

export const DEFAULT_ORIGIN: Origin = Object.freeze({ file: 'default', text: 'default' });

/** Values being assembled, before freezing; `origins` says where each came from. */
export interface Draft {
  readonly values: Map<ConfigKey, unknown>;
  readonly origins: Map<ConfigKey, Origin>;
}

const defaults: ReadonlyMap<ConfigKey, unknown> = new Map(
  configKeys.map((key) => {
    try {
      return [key, keyDef(key).type.parse(keyDef(key).default)];
    } catch (err) {
      throw new Error(`built-in default of ${key} does not parse: ${(err as Error).message}`);
    }
  }),
);

function parseSetting(setting: Setting, errors: ConfigError[]): { ok: true; value: unknown } | { ok: false } {
  const def = keyDef(setting.key);
  try {
    return { ok: true, value: def.type.parse(setting.value) };
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err;
    const hide = (s: string): string => (def.secret ? maskCredentials(s) : s);
    errors.push(
      new ConfigError({
        origin: setting.origin,
        key: setting.key,
        name: setting.name,
        expected: err.expected,
        given: hide(setting.value),
        reason: err.reason === undefined ? undefined : hide(err.reason),
      }),
    );
    return { ok: false };
  }
}

/** Hides passwords in text that did not even parse, so error messages never print credentials. */
function maskCredentials(text: string): string {
  return text
    .split(/([,;\s"])/)
    .map((part) => (/^hardcoded:\/\//i.test(part) ? 'hardcoded://********' : maskUrl(part)))
    .join('');
}

/**
 * Applies one source on top of `draft`. Every occurrence is parsed so every bad line is reported;
 * the last occurrence wins, except that a canonical name beats an alias in the same source (I3:
 * `smtp-key` wins over `smtp-privatekey` regardless of order).
 */
export function applySource(draft: Draft, settings: readonly Setting[], errors: ConfigError[]): void {
  const winners = new Map<ConfigKey, { setting: Setting; value: unknown; canonical: boolean }>();
  for (const setting of settings) {
    const parsed = parseSetting(setting, errors);
    const canonical = setting.name.toLowerCase() === setting.key;
    const current = winners.get(setting.key);
    if (current !== undefined && current.canonical && !canonical) continue;
    if (parsed.ok) winners.set(setting.key, { setting, value: parsed.value, canonical });
    else winners.delete(setting.key);
  }
  for (const [key, winner] of winners) {
    draft.values.set(key, winner.value);
    draft.origins.set(key, winner.setting.origin);
  }
}

export function emptyDraft(): Draft {
  return { values: new Map(defaults), origins: new Map(configKeys.map((key) => [key, DEFAULT_ORIGIN])) };
}

function isSet(draft: Draft, key: ConfigKey): boolean {
  return draft.origins.get(key) !== DEFAULT_ORIGIN;
}

const LEGACY_RABBIT = ['rabbitmq-host', 'rabbitmq-user', 'rabbitmq-password', 'rabbitmq-vhost'] as const;

/** Values that depend on other values or on the machine, filled in after all sources are applied. */
function derive(draft: Draft, errors: ConfigError[], warnings: ConfigWarning[]): void {
  const get = (key: ConfigKey): unknown => draft.values.get(key);
  const legacySet = LEGACY_RABBIT.filter((key) => get(key) !== '');
  const legacyOrigin = legacySet[0] === undefined ? undefined : draft.origins.get(legacySet[0]);
  if (legacyOrigin !== undefined && isSet(draft, 'rabbitmq-address')) {
    warnings.push({
      message: `${legacyOrigin.text}: ${legacySet.join(', ')} ignored because rabbitmq-address is set`,
      file: legacyOrigin.file,
      line: legacyOrigin.line,
      key: legacySet[0],
    });
  } else if (legacyOrigin !== undefined) {
    const address = legacyAmqpAddress({
      host: get('rabbitmq-host') as string,
      user: get('rabbitmq-user') as string,
      password: get('rabbitmq-password') as string,
      vhost: get('rabbitmq-vhost') as string,
    });
    const origin = { ...legacyOrigin, text: `${legacyOrigin.text} (built from ${legacySet.join(', ')})` };
    const setting: Setting = { key: 'rabbitmq-address', name: 'rabbitmq-address', value: address, origin };
    const parsed = parseSetting(setting, errors);
    if (parsed.ok) {
      draft.values.set('rabbitmq-address', parsed.value);
      draft.origins.set('rabbitmq-address', origin);
    }
  }
  if ((get('cluster-address') as readonly string[]).length === 0) {
    draft.values.set('cluster-address', get('rabbitmq-address'));
    draft.origins.set('cluster-address', { ...DEFAULT_ORIGIN, text: 'default (= rabbitmq-address)' });
  }
  if (get('smtp-hostname') === '') {
    draft.values.set('smtp-hostname', hostname());
    draft.origins.set('smtp-hostname', { ...DEFAULT_ORIGIN, text: 'default (OS host name)' });
  }
}

/** One place settings come from, with the problems found while reading it. */
export interface Source {
  readonly settings: readonly Setting[];
  readonly errors: readonly ConfigError[];
  /** Found while reading (unknown keys); reported with this source's other warnings. */
  readonly warnings?: readonly ConfigWarning[];
}

export interface Built {
  readonly config: Config;
  readonly warnings: ConfigWarning[];
  readonly sources: ReadonlyMap<string, string>;
}

/**
 * Defaults, then each source in order, then derived values and cross-key checks. Throws one
 * ConfigError carrying every problem, including those found while reading the sources.
 */
export function buildConfig(sources: readonly Source[], warnings: ConfigWarning[]): Built {
  const draft = emptyDraft();
  const errors: ConfigError[] = [];
  for (const source of sources) {
    const found = [...source.errors];
    applySource(draft, source.settings, found);
    // Report in reading order: file by file, line by line.
    errors.push(...found.sort(byLine));
    warnings.push(...[...(source.warnings ?? []), ...unsupportedWarnings(source.settings)].sort(byLine));
  }
  derive(draft, errors, warnings);
  validate(draft, errors, warnings);
  if (errors.length > 0) throw ConfigError.aggregate(errors);
  const config = Object.freeze(Object.fromEntries(configKeys.map((key) => [key, deepFreeze(draft.values.get(key))]))) as Config;
  const sourceTexts = new Map(configKeys.map((key) => [key, (draft.origins.get(key) as Origin).text]));
  return { config, warnings, sources: sourceTexts };
}

function byLine(a: { readonly line?: number | undefined }, b: { readonly line?: number | undefined }): number {
  return (a.line ?? 0) - (b.line ?? 0);
}

function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    value.forEach(deepFreeze);
    return Object.freeze(value);
  }
  if (value !== null && typeof value === 'object') Object.freeze(value);
  return value;
}
