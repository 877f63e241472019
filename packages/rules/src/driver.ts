import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The database driver `name` (better-sqlite3 or pg), loaded by the store that uses it on its first
 * query: a process whose `database-address` is SQLite never loads pg, and the reverse. A driver
 * that is not installed is one line naming it, not a stack of resolver frames.
 */
export function loadDriver<T>(name: string): T {
  try {
    return require(name) as T;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && (err as Error).message.includes(`'${name}'`))
      throw new Error(`database driver ${name} is not installed (npm install ${name})`);
    throw err;
  }
}
