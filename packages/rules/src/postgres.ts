import type pg from 'pg';
import { loadDriver } from './driver.js';
import { SchemaMismatchError } from './errors.js';
import { MIGRATIONS, SCHEMA_VERSION_DDL } from './migrations.js';
import { duplicate, type StoreOptions } from './sqlite.js';
import type { RuleStore } from './store.js';
import { TABLES, fromDb, toDb, validateRow } from './tables.js';
import { RULE_KINDS, type NewRow, type RuleKind, type RuleSet, type RuleTables } from './types.js';

/** Serialises `migrate` across every node of a cluster starting at once. */
const MIGRATION_LOCK = 0x6d746171; // "mtaq"

/** The rule database in PostgreSQL (a pool of up to 4 connections; every node of a cluster uses the same database). */
export class PostgresRuleStore implements RuleStore {
  readonly dialect = 'postgresql' as const;
  private opened: pg.Pool | undefined;
  private readonly owner: string | null;
  private readonly connectTimeoutMs: number;

  constructor(
    readonly address: string,
    options: StoreOptions & { connectTimeoutMs?: number } = {},
  ) {
    this.owner = options.owner ?? null;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  }

  /** The pool, made (and pg loaded) with the first query. */
  private get pool(): pg.Pool {
    if (this.opened === undefined) {
      const { Pool } = loadDriver<typeof pg>('pg');
      this.opened = new Pool({ connectionString: this.address, max: 4, connectionTimeoutMillis: this.connectTimeoutMs, idleTimeoutMillis: 30_000 });
      // An idle client whose server went away: the pool drops it; the next query reconnects.
      this.opened.on('error', () => undefined);
    }
    return this.opened;
  }

  private async tx<T>(begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A server gone mid-transaction: the query rejects; the client's own 'error' event must not crash the process.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query(begin);
      const out = await fn(client);
      await client.query('commit');
      return out;
    } catch (err) {
      await client.query('rollback').catch(() => {
        broken = true;
      });
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  migrate(): Promise<number[]> {
    return this.tx('begin', async (c) => {
      await c.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query(SCHEMA_VERSION_DDL.postgresql);
      const done = new Set((await c.query<{ version: number }>('select version from schema_version')).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await c.query(m.postgresql);
        await c.query('insert into schema_version (version, name) values ($1, $2)', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    });
  }

  async validate(): Promise<void> {
    const tables = await this.pool.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns where table_schema = current_schema()`,
    );
    const cols = new Map<string, Set<string>>();
    for (const r of tables.rows) (cols.get(r.table_name) ?? cols.set(r.table_name, new Set()).get(r.table_name)!).add(r.column_name);
    if (!cols.has('schema_version')) throw new SchemaMismatchError(`${redact(this.address)}: no schema_version table (migrations never applied)`);
    const versions = new Set((await this.pool.query<{ version: number }>('select version from schema_version')).rows.map((r) => r.version));
    const problems: string[] = [];
    for (const m of MIGRATIONS) if (!versions.has(m.version)) problems.push(`migration ${m.version} (${m.name}) not applied`);
    for (const kind of RULE_KINDS) {
      const def = TABLES[kind];
      const have = cols.get(def.table);
      if (have === undefined) problems.push(`table ${def.table} missing`);
      else for (const col of ['id', 'created', ...def.columns.map((c) => c.column)]) if (!have.has(col)) problems.push(`column ${def.table}.${col} missing`);
    }
    if (problems.length > 0) throw new SchemaMismatchError(`${redact(this.address)}: ${problems.join('; ')}`);
  }

  load(): Promise<RuleSet> {
    return this.tx('begin isolation level repeatable read read only', async (c) => {
      const all = async <K extends RuleKind>(kind: K): Promise<RuleTables[K][]> =>
        (await c.query(`select * from ${TABLES[kind].table} order by ${kind === 'patterns' ? 'priority, id' : 'id'}`)).rows.map((r) => fromDb(kind, r));
      // One after the other: a client runs one query at a time.
      const suppressions = await all('suppressions');
      const pauses = await all('pauses');
      const errors = await all('errors');
      const patterns = await all('patterns');
      const floods = await all('floods');
      const pools = await all('pools');
      const poolips = await all('poolips');
      const externalmtas = await all('externalmtas');
      const dkimkeys = await all('dkimkeys');
      return { suppressions, pauses, errors, patterns, floods, pools, poolips, externalmtas, dkimkeys, loadedAt: Date.now() };
    });
  }

  async list<K extends RuleKind>(kind: K): Promise<RuleTables[K][]> {
    const r = await this.pool.query(`select * from ${TABLES[kind].table} order by ${kind === 'patterns' ? 'priority, id' : 'id'}`);
    return r.rows.map((row) => fromDb(kind, row));
  }

  async get<K extends RuleKind>(kind: K, id: number): Promise<RuleTables[K] | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const r = await this.pool.query(`select * from ${TABLES[kind].table} where id = $1`, [id]);
    return r.rows[0] === undefined ? undefined : fromDb(kind, r.rows[0]);
  }

  async create<K extends RuleKind>(kind: K, row: NewRow<K>): Promise<RuleTables[K]> {
    const valid = validateRow(kind, row, this.owner);
    const def = TABLES[kind];
    try {
      const r = await this.pool.query(
        `insert into ${def.table} (${def.columns.map((c) => c.column).join(', ')}) values (${def.columns.map((_, i) => `$${i + 1}`).join(', ')}) returning *`,
        toDb(kind, valid, 'postgresql'),
      );
      return fromDb(kind, r.rows[0]);
    } catch (err) {
      if ((err as { code?: unknown }).code === '23505') throw duplicate(kind);
      throw err;
    }
  }

  async delete(kind: RuleKind, id: number): Promise<boolean> {
    if (!Number.isSafeInteger(id) || Math.abs(id) > 2 ** 31 - 1) return false;
    const r = await this.pool.query(`delete from ${TABLES[kind].table} where id = $1`, [id]);
    return (r.rowCount ?? 0) > 0;
  }

  close(): Promise<void> {
    // never queried: no pool to end (and no reason to load pg now)
    return this.opened === undefined ? Promise.resolve() : this.opened.end();
  }
}

/** The address without its password, for messages. */
export function redact(address: string): string {
  return address.replace(/^(\w+:\/\/[^:/@]*):[^@/]*@/, '$1:***@');
}
