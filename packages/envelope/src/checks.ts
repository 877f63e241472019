/**
 * Tiny combinators behind the table-driven validators. A check returns the (possibly normalised)
 * value or throws {@link Invalid}; the caller writes a changed value back into the object, so
 * parsing works in place instead of copying every document.
 *
 * Paths are assembled only while an error unwinds (each container prefixes its key), so the happy
 * path, which runs for every message, builds no strings.
 */

import { isTime } from './time.js';

/** Internal failure; turned into EnvelopeError at the public boundary. Not an Error: no stack capture. */
export class Invalid {
  constructor(
    public path: string,
    readonly reason: string,
  ) {}
}

export type Check<T = unknown> = (value: unknown) => T;

/** `undefined` from a check means "drop the property" (see `ips`). */
export type Schema = Record<string, Check>;

export function fail(reason: string): never {
  throw new Invalid('', reason);
}

function joinPath(segment: string | number, rest: string): string {
  const head = typeof segment === 'number' ? `[${segment}]` : segment;
  if (rest === '') return head;
  return rest.startsWith('[') ? head + rest : `${head}.${rest}`;
}

/** Prefixes a failure's path with the key it was found under; rethrow the result. */
function within(segment: string | number, e: unknown): unknown {
  if (e instanceof Invalid) e.path = joinPath(segment, e.path);
  return e;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const string: Check<string> = (v) => (typeof v === 'string' ? v : fail('expected a string'));

export const nonEmptyString: Check<string> = (v) =>
  typeof v === 'string' && v !== '' ? v : fail('expected a non-empty string');

export const boolean: Check<boolean> = (v) => (typeof v === 'boolean' ? v : fail('expected true or false'));

export const time: Check<string> = (v) => (isTime(v) ? v : fail('expected a UTC time "YYYY-MM-DD HH:MM:SS"'));

export const plainObject: Check<Record<string, unknown>> = (v) => (isPlainObject(v) ? v : fail('expected an object'));

export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): Check<number> {
  const reason = max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer ${min}-${max}`;
  return (v) => (Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : fail(reason));
}

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  const set = new Set<string>(values);
  const reason = `expected one of ${values.join(', ')}`;
  return (v) => (typeof v === 'string' && set.has(v) ? (v as T) : fail(reason));
}

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v) => (v === null ? null : check(v));
}

export function arrayOf<T>(item: Check<T>): Check<T[]> {
  return (v) => {
    if (!Array.isArray(v)) fail('expected an array');
    for (let i = 0; i < v.length; i++) {
      const before: unknown = v[i];
      let after: T;
      try {
        after = item(before);
      } catch (e) {
        throw within(i, e);
      }
      if (after !== before) v[i] = after;
    }
    return v as T[];
  };
}

/** An object with arbitrary keys whose values all pass `item`. */
export function recordOf<T>(item: Check<T>): Check<Record<string, T>> {
  return (v) => {
    if (!isPlainObject(v)) fail('expected an object');
    for (const key of Object.keys(v)) {
      const before = v[key];
      let after: T;
      try {
        after = item(before);
      } catch (e) {
        throw within(key, e);
      }
      if (after !== before) v[key] = after;
    }
    return v as Record<string, T>;
  };
}

/** A single value or an array of them, e.g. `dkim` or `headers.remove`. */
export function oneOrMany<T>(item: Check<T>): Check<T | T[]> {
  const many = arrayOf(item);
  return (v) => (Array.isArray(v) ? many(v) : item(v));
}

/**
 * Checks the schema's properties of `target` in place. Keys not in the schema are not visited at
 * all, which is both what keeps unknown properties untouched and what keeps this cheap.
 */
export function checkFields(target: Record<string, unknown>, entries: readonly (readonly [string, Check])[], required: readonly string[]): void {
  for (const key of required) {
    if (target[key] === undefined) throw new Invalid(key, 'is required');
  }
  for (const [key, check] of entries) {
    const before = target[key];
    if (before === undefined) continue;
    let after: unknown;
    try {
      after = check(before);
    } catch (e) {
      throw within(key, e);
    }
    if (after === undefined) delete target[key];
    else if (after !== before) target[key] = after;
  }
}

export function object<T>(schema: Schema, required: readonly string[] = []): Check<T> {
  const entries = Object.entries(schema);
  return (v) => {
    if (!isPlainObject(v)) fail('expected an object');
    checkFields(v, entries, required);
    return v as T;
  };
}
