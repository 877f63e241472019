import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';
import { PasswordFormatError, storedPasswordKind, verifyPassword } from './passwords.js';

/**
 * `file:///path`: lines `user:hash` with crypt(3) hashes as `openssl passwd -6` / `mkpasswd -m
 * sha-512` write them. Accepted: `$6$` (sha512-crypt), `$5$` (sha256-crypt), bcrypt (`$2a$`, `$2b$`,
 * `$2y$`, also with the concentrator's `bcrypt:` prefix, which `hashPassword('bcrypt')` returns).
 * Anything else, clear text included, makes the whole file fail to load, naming the line.
 * Blank lines and lines starting with `#` are ignored. The user ends at the first `:`.
 *
 * The file is re-read when its mtime, ctime, size or inode changes (checked on every login, one
 * stat call). A changed file that fails to load keeps the previous users and logs an error once, so
 * a half-written file never locks everybody out.
 */
export class PasswdFileBackend implements AuthBackend {
  readonly name = 'file';
  readonly plainSecrets = false;
  readonly #path: string;
  readonly #logger: Logger;
  #users: ReadonlyMap<string, string>;
  #stamp: string;
  #refreshing: Promise<void> | undefined;

  /** Loads the file at once so a bad file stops start-up. @throws AuthConfigError */
  constructor(path: string, logger: Logger = silentLogger) {
    this.#path = path;
    this.#logger = logger;
    let text: string;
    let stats: Stats;
    try {
      stats = statSync(path);
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new AuthConfigError(`cannot read password file ${path}: ${(error as Error).message}`, { cause: error });
    }
    this.#users = parsePasswdFile(text, path);
    this.#stamp = stampOf(stats);
  }

  get size(): number {
    return this.#users.size;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, false);
    if (rejected) return rejected;
    await this.#refresh();
    const stored = this.#users.get(request.username);
    if (stored === undefined) return fail('invalid', 'unknown user');
    return (await verifyPassword(stored, request.password ?? '')) ? ok(request.username) : fail('invalid');
  }

  #refresh(): Promise<void> {
    // Logins arriving during a reload wait for that one reload instead of starting their own.
    this.#refreshing ??= this.#reloadIfChanged().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #reloadIfChanged(): Promise<void> {
    let stamp: string;
    try {
      stamp = stampOf(await stat(this.#path));
    } catch (error) {
      const failed = `missing:${(error as NodeJS.ErrnoException).code ?? ''}`;
      if (this.#stamp !== failed) {
        this.#stamp = failed;
        this.#logger.error({ file: this.#path, err: error }, 'password file unreadable; keeping the users loaded before');
      }
      return;
    }
    if (stamp === this.#stamp) return;
    this.#stamp = stamp;
    try {
      this.#users = parsePasswdFile(await readFile(this.#path, 'utf8'), this.#path);
      this.#logger.info({ file: this.#path, users: this.#users.size }, 'password file reloaded');
    } catch (error) {
      this.#logger.error({ file: this.#path, err: error }, 'password file changed but cannot be loaded; keeping the users loaded before');
    }
  }
}

/** @throws AuthConfigError naming the file and line. */
export function parsePasswdFile(text: string, path: string): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${path} line ${index + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new AuthConfigError(`${where}: expected user:hash`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    let kind;
    try {
      kind = storedPasswordKind(hash);
    } catch (error) {
      if (error instanceof PasswordFormatError) throw new AuthConfigError(`${where}: user "${user}": ${error.message}`);
      throw error;
    }
    if (kind !== 'sha512-crypt' && kind !== 'sha256-crypt' && kind !== 'bcrypt') {
      const what = kind === 'plain' ? 'a clear-text password or unknown hash' : `a salted ${kind} hash (only the CSV users file takes those)`;
      throw new AuthConfigError(
        `${where}: user "${user}": ${what}; expected $6$ (openssl passwd -6), $5$ (openssl passwd -5) or bcrypt ($2b$)`,
      );
    }
    if (users.has(user)) throw new AuthConfigError(`${where}: user "${user}" appears twice`);
    users.set(user, hash);
  }
  return users;
}

function stampOf(stats: Stats): string {
  return `${stats.mtimeMs}:${stats.ctimeMs}:${stats.size}:${stats.ino}`;
}
