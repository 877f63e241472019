import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { loadDriver } from './driver.js';
import { RuleValidationError, SchemaMismatchError } from './errors.js';
import { MIGRATIONS, SCHEMA_VERSION_DDL } from './migrations.js';
import type { RuleStore } from './store.js';
import { TABLES, fromDb, toDb, validateRow } from './tables.js';
import { RULE_KINDS, type NewRow, type RuleKind, type RuleSet, type RuleTables } from './types.js';

export interface StoreOptions {
  /** Owner recorded on pauses and forced errors created without one (the instance's `server-id`). */
  readonly owner?: string | null;
}

/**
 * The rule database in one SQLite file (better-sqlite3, WAL mode). The file and its directory are
 * created on first use; the connection is opened lazily and reopened after an I/O error, so a
 * store whose file is unreadable now may work on a later call.
 */
export class SqliteRuleStore implements RuleStore {
  readonly dialect = 'sqlite' as const;
  private db: Database.Database | undefined;
  /** Device and inode of the file `db` has open: a file replaced or removed since is reopened. */
  private identity = '';
  private readonly owner: string | null;

  constructor(
    readonly path: string,
    options: StoreOptions = {},
  ) {
    this.owner = options.owner ?? null;
  }

  private fileIdentity(): string {
    if (this.path === ':memory:') return 'memory';
    try {
      const st = statSync(this.path);
      return `${st.dev}:${st.ino}`;
    } catch {
      return 'missing';
    }
  }

  private conn(): Database.Database {
    // A restored backup, a file moved away: read what is at the path now, not the old inode.
    if (this.db !== undefined && this.fileIdentity() !== this.identity) {
      try {
        this.db.close();
      } catch {
        // already unusable
      }
      this.db = undefined;
    }
    if (this.db === undefined) {
      if (this.path !== ':memory:') mkdirSync(dirname(this.path), { recursive: true });
      const Driver = loadDriver<typeof Database>('better-sqlite3');
      const db = new Driver(this.path, { timeout: 5000 });
      try {
        db.pragma('journal_mode = WAL');
      } catch (err) {
        db.close();
        throw err;
      }
      this.db = db;
      this.identity = this.fileIdentity();
    }
    return this.db;
  }

  /** Runs `fn`; on anything but a constraint or validation error the connection is dropped, to be reopened next time. */
  private run<T>(fn: (db: Database.Database) => T): Promise<T> {
    try {
      return Promise.resolve(fn(this.conn()));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (!(err instanceof RuleValidationError) && !(typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT'))) {
        try {
          this.db?.close();
        } catch {
          // already unusable
        }
        this.db = undefined;
      }
      return Promise.reject(err);
    }
  }

  migrate(): Promise<number[]> {
    return this.run((db) => {
      const applied: number[] = [];
      db.transaction(() => {
        db.exec(SCHEMA_VERSION_DDL.sqlite);
        const done = new Set(db.prepare('select version from schema_version').all().map((r) => (r as { version: number }).version));
        for (const m of MIGRATIONS) {
          if (done.has(m.version)) continue;
          db.exec(m.sqlite);
          db.prepare('insert into schema_version (version, name) values (?, ?)').run(m.version, m.name);
          applied.push(m.version);
        }
      }).immediate();
      return applied;
    });
  }

  validate(): Promise<void> {
    return this.run((db) => {
      const problems: string[] = [];
      let versions: Set<number>;
      try {
        versions = new Set(db.prepare('select version from schema_version').all().map((r) => (r as { version: number }).version));
      } catch {
        throw new SchemaMismatchError(`${this.path}: no schema_version table (migrations never applied)`);
      }
      for (const m of MIGRATIONS) if (!versions.has(m.version)) problems.push(`migration ${m.version} (${m.name}) not applied`);
      for (const kind of RULE_KINDS) {
        const def = TABLES[kind];
        const cols = new Set(db.prepare(`select name from pragma_table_info(?)`).all(def.table).map((r) => (r as { name: string }).name));
        if (cols.size === 0) problems.push(`table ${def.table} missing`);
        else for (const col of ['id', 'created', ...def.columns.map((c) => c.column)]) if (!cols.has(col)) problems.push(`column ${def.table}.${col} missing`);
      }
      if (problems.length > 0) throw new SchemaMismatchError(`${this.path}: ${problems.join('; ')}`);
    });
  }

  load(): Promise<RuleSet> {
    return this.run((db) =>
      db.transaction(() => {
        const all = <K extends RuleKind>(kind: K): RuleTables[K][] =>
          db
            .prepare(`select * from ${TABLES[kind].table} order by ${kind === 'patterns' ? 'priority, id' : 'id'}`)
            .all()
            .map((r) => fromDb(kind, r as Record<string, unknown>));
        return {
          suppressions: all('suppressions'),
          pauses: all('pauses'),
          errors: all('errors'),
          patterns: all('patterns'),
          floods: all('floods'),
          pools: all('pools'),
          poolips: all('poolips'),
          externalmtas: all('externalmtas'),
          dkimkeys: all('dkimkeys'),
          loadedAt: Date.now(),
        };
      }).deferred(),
    );
  }

  list<K extends RuleKind>(kind: K): Promise<RuleTables[K][]> {
    return this.run((db) =>
      db
        .prepare(`select * from ${TABLES[kind].table} order by ${kind === 'patterns' ? 'priority, id' : 'id'}`)
        .all()
        .map((r) => fromDb(kind, r as Record<string, unknown>)),
    );
  }

  get<K extends RuleKind>(kind: K, id: number): Promise<RuleTables[K] | undefined> {
    return this.run((db) => {
      const r = db.prepare(`select * from ${TABLES[kind].table} where id = ?`).get(id);
      return r === undefined ? undefined : fromDb(kind, r as Record<string, unknown>);
    });
  }

  create<K extends RuleKind>(kind: K, row: NewRow<K>): Promise<RuleTables[K]> {
    return this.run((db) => {
      const valid = validateRow(kind, row, this.owner);
      const def = TABLES[kind];
      try {
        const r = db
          .prepare(`insert into ${def.table} (${def.columns.map((c) => c.column).join(', ')}) values (${def.columns.map(() => '?').join(', ')}) returning *`)
          .get(...toDb(kind, valid, 'sqlite'));
        return fromDb(kind, r as Record<string, unknown>);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw duplicate(kind);
        throw err;
      }
    });
  }

  delete(kind: RuleKind, id: number): Promise<boolean> {
    return this.run((db) => db.prepare(`delete from ${TABLES[kind].table} where id = ?`).run(id).changes > 0);
  }

  close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
    return Promise.resolve();
  }
}

export function duplicate(kind: RuleKind): RuleValidationError {
  const fields = TABLES[kind].unique;
  return new RuleValidationError(kind, fields, `${kind}: a row with the same ${fields.map((f) => `"${f}"`).join(' and ')} already exists`);
}
