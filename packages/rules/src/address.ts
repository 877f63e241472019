import { UnsupportedDatabaseError } from './errors.js';
import { PostgresRuleStore } from './postgres.js';
import { SqliteRuleStore, type StoreOptions } from './sqlite.js';
import type { RuleStore } from './store.js';

/**
 * `database-address` → a store, or undefined when it is empty (no rule database: no rules).
 * - `sqlite:///abs/path` (default `sqlite:///var/lib/mtaq/mtaq.sqlite`, never inside the checkout;
 *   `sqlite://relative/path` is relative to the working directory; `sqlite::memory:` for tests)
 * - `postgresql://user@host:port/db` or `postgres://…` (any libpq-style URL that `pg` accepts)
 * - `mysql://` is refused: the error names the setting (`origin`, e.g. `etc/mtaq.conf:12`).
 */
export function storeFromAddress(address: string, options: StoreOptions & { origin?: string } = {}): RuleStore | undefined {
  const where = `${options.origin ?? 'database-address'}${options.origin === undefined ? '' : ': database-address'}`;
  const text = address.trim();
  if (text === '') return undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    if (text === 'sqlite::memory:') return new SqliteRuleStore(':memory:', options);
    const path = decodeURIComponent(text.replace(/^sqlite:\/\//i, '').replace(/[?#].*$/, ''));
    if (path === '') throw new UnsupportedDatabaseError(`${where}: "${address}" names no file; use sqlite:///path/to/rules.sqlite`);
    return new SqliteRuleStore(path, options);
  }
  if (scheme === 'postgresql' || scheme === 'postgres') return new PostgresRuleStore(text, options);
  if (scheme === 'mysql' || scheme === 'mariadb')
    throw new UnsupportedDatabaseError(`${where}: ${scheme}:// is not supported by mtaq; use sqlite:///path (one host) or postgresql://… (a cluster)`);
  throw new UnsupportedDatabaseError(`${where}: "${scheme ?? address}" is not a database mtaq supports; use sqlite:///path or postgresql://…`);
}
