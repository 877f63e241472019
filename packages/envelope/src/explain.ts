/**
 * Says what is wrong with a document the compiled check refused: the first problem, in schema
 * order, as a path (`dkim[1].key`, `headers.append.x-a[1]`) and a one-line reason. It runs only
 * on the failure path, so it walks the schema plainly instead of being fast. TypeBox's own error
 * iterator reports a failed union as a whole ("expected union value"); here a union is followed
 * into the variant whose JSON type the value has, which is what names the property at fault.
 */

import { Kind, type TSchema } from '@sinclair/typebox';
import { FormatRegistry } from '@sinclair/typebox';
import { REASONS } from './schema/leaves.js';

export interface Problem {
  path: string;
  reason: string;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'Null';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return 'Object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'Integer' : 'Number';
  return typeof v === 'string' ? 'String' : typeof v === 'boolean' ? 'Boolean' : 'other';
}

/** Kinds a value of each JSON type can satisfy. */
const FITS: Record<string, readonly string[]> = {
  Null: ['Null'],
  Array: ['Array'],
  Object: ['Object', 'Record'],
  Integer: ['Integer', 'Number'],
  Number: ['Number'],
  String: ['String', 'Literal'],
  Boolean: ['Boolean'],
};

const NOUNS: Record<string, string> = {
  Null: 'null',
  Array: 'an array',
  Object: 'an object',
  Record: 'an object',
  Integer: 'an integer',
  Number: 'a number',
  String: 'a string',
  Boolean: 'true or false',
};

function noun(schema: TSchema): string {
  return schema[Kind] === 'Literal' ? JSON.stringify(schema.const) : (NOUNS[schema[Kind]] ?? 'something else');
}

function at(segment: string | number, problem: Problem | undefined): Problem | undefined {
  if (problem === undefined) return undefined;
  const head = typeof segment === 'number' ? `[${segment}]` : segment;
  const path = problem.path === '' ? head : problem.path.startsWith('[') ? head + problem.path : `${head}.${problem.path}`;
  return { path, reason: problem.reason };
}

const fail = (reason: string): Problem => ({ path: '', reason });

function integer(schema: TSchema, v: unknown): Problem | undefined {
  const min = (schema.minimum as number | undefined) ?? Number.MIN_SAFE_INTEGER;
  const max = (schema.maximum as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  if (Number.isInteger(v) && (v as number) >= min && (v as number) <= max) return undefined;
  return fail(schema.maximum === undefined ? `expected an integer >= ${min}` : `expected an integer ${min}-${max}`);
}

function string(schema: TSchema, v: unknown): Problem | undefined {
  const nonEmpty = (schema.minLength as number | undefined) === 1;
  if (typeof v !== 'string') return fail(nonEmpty ? 'expected a non-empty string' : 'expected a string');
  if (nonEmpty && v === '') return fail('expected a non-empty string');
  const pattern = schema.pattern as string | undefined;
  if (pattern !== undefined && !new RegExp(pattern).test(v)) return fail(REASONS.get(pattern) ?? `expected a string matching ${pattern}`);
  const format = schema.format as string | undefined;
  if (format !== undefined && FormatRegistry.Get(format)?.(v) === false) return fail(REASONS.get(format) ?? `expected ${format}`);
  return undefined;
}

function union(schema: TSchema, v: unknown): Problem | undefined {
  const variants = schema.anyOf as TSchema[];
  if (variants.every((s) => s[Kind] === 'Literal')) {
    return variants.some((s) => s.const === v) ? undefined : fail(`expected one of ${variants.map((s) => s.const as string).join(', ')}`);
  }
  const fitting = variants.filter((s) => FITS[jsonType(v)]?.includes(s[Kind]));
  if (fitting.length === 0) return fail(`expected ${variants.map(noun).join(' or ')}`);
  const problems = fitting.map((s) => firstProblem(s, v));
  return problems.includes(undefined) ? undefined : problems[0];
}

function object(schema: TSchema, v: unknown): Problem | undefined {
  if (!isPlainObject(v)) return fail('expected an object');
  for (const key of (schema.required as string[] | undefined) ?? []) {
    if (v[key] === undefined) return { path: key, reason: 'is required' };
  }
  for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
    if (v[key] === undefined) continue;
    const problem = at(key, firstProblem(property, v[key]));
    if (problem) return problem;
  }
  return undefined;
}

function record(schema: TSchema, v: unknown): Problem | undefined {
  if (!isPlainObject(v)) return fail('expected an object');
  const item = Object.values(schema.patternProperties as Record<string, TSchema>)[0]!;
  for (const key of Object.keys(v)) {
    const problem = at(key, firstProblem(item, v[key]));
    if (problem) return problem;
  }
  return undefined;
}

function array(schema: TSchema, v: unknown): Problem | undefined {
  if (!Array.isArray(v)) return fail('expected an array');
  for (let i = 0; i < v.length; i++) {
    const problem = at(i, firstProblem(schema.items as TSchema, v[i]));
    if (problem) return problem;
  }
  return undefined;
}

/** The first problem of `value` against `schema`, or undefined when there is none. */
export function firstProblem(schema: TSchema, value: unknown): Problem | undefined {
  switch (schema[Kind]) {
    case 'Object':
      return object(schema, value);
    case 'Record':
      return record(schema, value);
    case 'Array':
      return array(schema, value);
    case 'Union':
      return union(schema, value);
    case 'Literal':
      return value === schema.const ? undefined : fail(`expected ${JSON.stringify(schema.const)}`);
    case 'String':
      return string(schema, value);
    case 'Integer':
      return integer(schema, value);
    case 'Number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : fail('expected a number');
    case 'Boolean':
      return typeof value === 'boolean' ? undefined : fail('expected true or false');
    case 'Null':
      return value === null ? undefined : fail('expected null');
    default:
      return undefined;
  }
}

/**
 * The document-level rule TypeBox does not compile: `allOf: [{anyOf: [{required: [a]}, …]}]`, "one
 * of these properties must be present". Checked in code, written in the schema for other languages.
 */
export function missingAlternative(schema: TSchema, doc: Record<string, unknown>): Problem | undefined {
  for (const group of (schema.allOf as { anyOf: { required: string[] }[] }[] | undefined) ?? []) {
    const keys = group.anyOf.map((alternative) => alternative.required[0]!);
    if (keys.some((k) => doc[k] !== undefined)) continue;
    const list = keys.length === 2 ? `either ${keys[0]} or ${keys[1]}` : `one of ${keys.slice(0, -1).join(', ')} or ${keys.at(-1)}`;
    return { path: keys[0]!, reason: `${list} is required` };
  }
  return undefined;
}
