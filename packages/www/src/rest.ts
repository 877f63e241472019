import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';

/** The rule tables the REST API serves, by their `/v1/<kind>` name. */
export const REST_KINDS = ['suppressions', 'pauses', 'errors', 'patterns', 'floods', 'pools', 'poolips', 'externalmtas', 'dkimkeys'] as const;
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
const matchType = { enum: ['exact', 'substring', 'substr', 'wildcard', 'fnmatch', 'regex'] } as const;
const seconds = { type: 'integer', minimum: 0, maximum: 7 * 86400 } as const;
const capacity = { type: ['integer', 'null'], minimum: 0 } as const;

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
      match: matchType,
      priority: { type: 'integer' },
      continue: { type: 'boolean' },
      actions: { type: 'object' },
      description,
    },
  },
  floods: {
    type: 'object',
    additionalProperties: false,
    required: ['pattern'],
    properties: {
      ...selector,
      pattern: { type: 'string', minLength: 1, maxLength: 1000 },
      match: matchType,
      pauseSeconds: seconds,
      reducedSeconds: seconds,
      connections: capacity,
      messagesPerMinute: capacity,
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
  dkimkeys: {
    type: 'object',
    additionalProperties: false,
    required: ['domain', 'selector', 'key'],
    properties: {
      domain: { type: 'string', minLength: 1, maxLength: 253 },
      selector: { type: 'string', minLength: 1, maxLength: 253 },
      key: { type: 'string', minLength: 1, maxLength: 20000 },
      headers: { type: ['array', 'null'], items: { type: 'string', minLength: 1, maxLength: 100 } },
      canonicalization: { type: ['string', 'null'], enum: ['relaxed/relaxed', 'relaxed/simple', 'simple/relaxed', 'simple/simple', 'relaxed', 'simple', null] },
    },
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
    if (kind === 'poolips' || kind === 'externalmtas' || kind === 'dkimkeys') break;
    if (row[field] === '*' || row[field] === '') row[field] = null;
  }
  for (const [a, b] of EXCLUSIVE) {
    if (row[a] != null && row[b] != null) throw new BadRequest(`body.${b}`, `${a} and ${b} are exclusive: give one of them`);
  }
  for (const field of ['mta', 'ip'] as const) {
    const value = row[field];
    if (typeof value === 'string' && isIP(value) === 0) throw new BadRequest(`body.${field}`, 'must be an IP address');
  }
  if ((kind === 'patterns' || kind === 'floods') && row['match'] === 'regex') {
    try {
      new RegExp(String(row['pattern']));
    } catch (err) {
      throw new BadRequest('body.pattern', `not a regular expression: ${(err as Error).message}`);
    }
  }
  if (kind === 'dkimkeys') {
    try {
      createPrivateKey(String(row['key']));
    } catch (err) {
      throw new BadRequest('body.key', `not a PEM private key: ${(err as Error).message}`);
    }
  }
  return row;
}

/**
 * A row as the REST API answers it. A DKIM key never leaves the database over HTTP: its row is
 * answered with the public half instead — `publicKey` (the DNS record's `p=` value), the `record`
 * to publish at `<selector>._domainkey.<domain>` and a SHA-256 `fingerprint` of the public key.
 */
export function presentRow(kind: RestKind, row: object): object {
  if (kind !== 'dkimkeys') return row;
  const { key, ...rest } = row as { key?: unknown } & Record<string, unknown>;
  return { ...rest, ...publicHalf(String(key)) };
}

function publicHalf(pem: string): { keyType: string | null; publicKey: string | null; record: string | null; fingerprint: string | null } {
  try {
    const publicKey = createPublicKey(createPrivateKey(pem));
    const type = publicKey.asymmetricKeyType ?? 'rsa';
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    // RFC 6376: p= is the SubjectPublicKeyInfo for RSA; RFC 8463: the 32 raw key bytes for Ed25519
    const p = (type === 'ed25519' ? spki.subarray(spki.length - 32) : spki).toString('base64');
    return { keyType: type, publicKey: p, record: `v=DKIM1; k=${type}; p=${p}`, fingerprint: `SHA256:${createHash('sha256').update(spki).digest('base64')}` };
  } catch {
    // rows written to the database by hand may hold a broken key: still listed, so they can be deleted
    return { keyType: null, publicKey: null, record: null, fingerprint: null };
  }
}
