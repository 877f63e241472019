import type { NewRow, RuleKind, RuleSet, RuleTables } from './types.js';

/**
 * One rule database (SQLite file or PostgreSQL). Every method may reject when the database is
 * unreachable; `create` rejects with a RuleValidationError (ExclusiveFieldsError for `pool`+`mta`,
 * `domain`+`ip`) before touching the database when the row is not acceptable.
 */
export interface RuleStore {
  /** `sqlite` or `postgresql`. */
  readonly dialect: 'sqlite' | 'postgresql';
  /** Applies the migrations not yet recorded in `schema_version`; returns the versions applied now. */
  migrate(): Promise<number[]>;
  /** Checks that every migration is recorded and every table has its columns (`database-validate`). */
  validate(): Promise<void>;
  /** Every table, read in one transaction. */
  load(): Promise<RuleSet>;
  list<K extends RuleKind>(kind: K): Promise<RuleTables[K][]>;
  get<K extends RuleKind>(kind: K, id: number): Promise<RuleTables[K] | undefined>;
  /** Validates, inserts and answers the stored row with its `id`. */
  create<K extends RuleKind>(kind: K, row: NewRow<K>): Promise<RuleTables[K]>;
  /** True when a row was deleted. */
  delete(kind: RuleKind, id: number): Promise<boolean>;
  close(): Promise<void>;
}
