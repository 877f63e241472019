import { isIP } from 'node:net';

/** The rule tables the REST API serves, by their `/v1/<kind>` name. */
export const REST_KINDS = ['suppressions', 'pauses', 'errors', 'patterns', 'pools', 'poolips', 'externalmtas'] as const;
export type RestKind = (typeof REST_KINDS)[number];

/** What the REST routes need from the rule store (@mtaq/rules' RuleStore, adapted by the caller). */
export interface RuleApi {
  list(kind: RestKind): Promise<readonly object[]>;
  /** Creates the row and answers it as stored, with its `id`. */
  create(kind: RestKind, row: Record<string, unknown>): Promise<object & { id: number }>;
  /** False when there was no such row. */
  remove(kind: RestKind, id: number): Promise<boolean>;
}

/** A request the handler refuses with 400, naming the field. */
export class BadRequest extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const nullableText = { type: ['string', 'null'], maxLength: 255 } as const;
const code = { type: 'integer', minimum: 200, maximum: 599 } as const;
const extended = { type: ['string', 'null'], pattern: '^$|^[245]\\.\\d{1,3}\\.\\d{1,3}$' } as const;
const selector = { pool: nullableText, mta: nullableText, domain: nullableText, ip: nullableText, tag: nullableText } as const;
const description = { type: ['string', 'null'], maxLength: 1000 } as const;

/** The POST body of each kind (JSON Schema, draft 7 as Fastify's Ajv takes it). */
export const BODY_SCHEMAS: Record<RestKind, object> = {
  suppressions: {
    type: 'object',
    additionalProperties: false,
    required: ['type', 'value'],
    properties: { type: { enum: ['address', 'domain'] }, value: { type: 'string', minLength: 1, maxLength: 320 }, code: { ...code, default: 550 }, extended, description },
  },
  pauses: {
    type: 'object',
    additionalProperties: false,
    properties: { ...selector, cluster: { type: 'boolean' }, owner: nullableText, description },
  },
  errors: {
    type: 'object',
    additionalProperties: false,
    required: ['code'],
    properties: { ...selector, cluster: { type: 'boolean' }, owner: nullableText, code, extended, description },
  },
  patterns: {
    type: 'object',
    additionalProperties: false,
    required: ['pattern'],
    properties: {
      pool: nullableText,
      mta: nullableText,
      domain: nullableText,
      tag: nullableText,
      pattern: { type: 'string', minLength: 1, maxLength: 1000 },
      match: { enum: ['exact', 'substring', 'substr', 'wildcard', 'fnmatch', 'regex'] },
      priority: { type: 'integer' },
      continue: { type: 'boolean' },
      actions: { type: 'object' },
      description,
    },
  },
  pools: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S+$' }, description },
  },
  poolips: {
    type: 'object',
    additionalProperties: false,
    required: ['pool', 'ip'],
    properties: { pool: { type: 'string', minLength: 1, maxLength: 255 }, ip: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  externalmtas: {
    type: 'object',
    additionalProperties: false,
    required: ['ip'],
    properties: { ip: { type: 'string', minLength: 1, maxLength: 64 }, hostname: nullableText, description },
  },
};

/** Selector fields that may not both be set (§7.10). */
const EXCLUSIVE: ReadonlyArray<readonly [string, string]> = [
  ['pool', 'mta'],
  ['domain', 'ip'],
];

/**
 * What the schema cannot say: `*` and '' in a selector mean "any" (null); exclusive fields
 * together; addresses that must be IPs; a regex that does not compile. Throws BadRequest.
 */
export function normaliseRow(kind: RestKind, body: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = { ...body };
  for (const field of ['pool', 'mta', 'domain', 'ip', 'tag'] as const) {
    if (kind === 'poolips' || kind === 'externalmtas') break;
    if (row[field] === '*' || row[field] === '') row[field] = null;
  }
  for (const [a, b] of EXCLUSIVE) {
    if (row[a] != null && row[b] != null) throw new BadRequest(`body.${b}`, `${a} and ${b} are exclusive: give one of them`);
  }
  for (const field of ['mta', 'ip'] as const) {
    const value = row[field];
    if (typeof value === 'string' && isIP(value) === 0) throw new BadRequest(`body.${field}`, 'must be an IP address');
  }
  if (kind === 'patterns' && row['match'] === 'regex') {
    try {
      new RegExp(String(row['pattern']));
    } catch (err) {
      throw new BadRequest('body.pattern', `not a regular expression: ${(err as Error).message}`);
    }
  }
  return row;
}
