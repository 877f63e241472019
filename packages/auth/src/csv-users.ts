import { CidrList } from '@mtaq/net';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';
import { cramMd5Verify } from './cram-md5.js';
import { checkColumnIndex, dataRecords, type CsvRecord } from './csv.js';
import { PasswordFormatError, storedPasswordKind, verifyPassword, type StoredPasswordKind } from './passwords.js';
import { Provisioner, type ProvisioningSource } from './provisioning.js';

/** 0-based column indexes; the concentrator allows 0-32. */
export interface CsvUserColumns {
  username: number;
  password: number;
  network?: number;
}

export interface CsvUsersOptions extends ProvisioningSource {
  columns: CsvUserColumns;
  /** The first record is a header and is skipped. */
  header: boolean;
  /** Accept clear-text passwords (the concentrator's allowInsecurePasswords); otherwise such users cannot log in. */
  allowPlainPasswords: boolean;
}

export interface CsvUser {
  readonly password: string;
  readonly kind: StoredPasswordKind;
  /** The user may log in only from these addresses; undefined = from anywhere. */
  readonly network: CidrList | undefined;
  readonly line: number;
}

/**
 * Users provisioned like the SMTP concentrator's authenticationCredentials: a CSV file or HTTP(S)
 * document with user name, password and optional network columns, reloaded on an interval.
 *
 * Passwords may be clear text (only with allowPlainPasswords, otherwise 'insecure-password'),
 * `bcrypt:<hash>`, `sha256|sha384|sha512:SALT:HASH` (see verifyPassword for the exact hashing) or
 * the crypt(3) forms `$6$`, `$5$`, `$2b$`. White space inside hashes is ignored (line-wrapped
 * pastes). The network column holds an address or CIDR range (several may be separated by `;`);
 * empty means anywhere. Records whose fields are all empty are skipped; anything else that does
 * not fit — too few columns, empty name or password, a malformed hash or network, a user listed
 * twice — rejects the whole document with an error naming the line.
 *
 * The password is checked before the network, so only someone who knows it learns that the
 * address was the problem ('network').
 */
export class CsvUsers implements AuthBackend {
  readonly name = 'csv';
  readonly #options: CsvUsersOptions;
  readonly #logger: Logger;
  readonly #provisioner: Provisioner<Map<string, CsvUser>>;
  #users: ReadonlyMap<string, CsvUser> | undefined;
  #plainCount = 0;

  constructor(options: CsvUsersOptions) {
    checkColumns(options.columns);
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#provisioner = new Provisioner(
      'CSV users',
      options,
      (text, label) => parseCsvUsers(text, label, options.columns, options.header),
      (users) => this.#apply(users),
    );
  }

  /** True when CRAM-MD5 can work for at least one user: clear-text passwords allowed and present. */
  get plainSecrets(): boolean {
    return this.#options.allowPlainPasswords && this.#plainCount > 0;
  }

  /** Number of users loaded. */
  get size(): number {
    return this.#users?.size ?? 0;
  }

  /** First load; @throws AuthConfigError naming the source and line. */
  start(): Promise<void> {
    return this.#provisioner.start();
  }

  /** Loads again now; false when that failed and the previous users stay. */
  reload(): Promise<boolean> {
    return this.#provisioner.reload();
  }

  async close(): Promise<void> {
    this.#provisioner.stop();
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const users = this.#users;
    if (users === undefined) return fail('unavailable', 'CSV users not loaded yet');
    const rejected = precheck(request, this.plainSecrets);
    if (rejected) return rejected;
    const user = users.get(request.username);
    if (user === undefined) return fail('invalid', 'unknown user');
    if (user.kind === 'plain' && !this.#options.allowPlainPasswords) {
      return fail('insecure-password', 'clear-text password in the CSV and plain-text passwords are not allowed');
    }
    let good: boolean;
    if (request.method === 'CRAM-MD5') {
      if (user.kind !== 'plain') return fail('invalid', 'CRAM-MD5 needs a clear-text password; this user has a hash');
      good = cramMd5Verify(user.password, request.challenge ?? '', request.challengeResponse ?? '');
    } else {
      good = await verifyPassword(user.password, request.password ?? '');
    }
    if (!good) return fail('invalid');
    if (user.network !== undefined && !user.network.contains(request.remoteAddress)) {
      return fail('network', `${request.remoteAddress} is outside ${user.network.toString()}`);
    }
    return ok(request.username);
  }

  #apply(users: Map<string, CsvUser>): void {
    this.#users = users;
    const plain = [...users].filter(([, user]) => user.kind === 'plain').map(([name]) => name);
    this.#plainCount = plain.length;
    this.#logger.info({ source: this.#provisioner.label, users: users.size }, 'CSV users loaded');
    if (plain.length > 0 && !this.#options.allowPlainPasswords) {
      this.#logger.warn(
        { source: this.#provisioner.label, users: plain.slice(0, 20), count: plain.length },
        'CSV users with clear-text passwords cannot log in (plain-text passwords are not allowed)',
      );
    }
  }
}

/** @throws AuthConfigError naming `label` and the line. */
export function parseCsvUsers(text: string, label: string, columns: CsvUserColumns, header: boolean): Map<string, CsvUser> {
  const users = new Map<string, CsvUser>();
  for (const record of dataRecords(text, label, header)) {
    const where = `${label} line ${record.line}`;
    const username = column(record, columns.username, 'username', where).trim();
    if (username === '') throw new AuthConfigError(`${where}: empty user name`);
    const password = column(record, columns.password, 'password', where);
    if (password === '') throw new AuthConfigError(`${where}: user "${username}": empty password`);
    let kind: StoredPasswordKind;
    try {
      kind = storedPasswordKind(password);
    } catch (error) {
      if (error instanceof PasswordFormatError) throw new AuthConfigError(`${where}: user "${username}": ${error.message}`);
      throw error;
    }
    const networkText = columns.network === undefined ? '' : (record.fields[columns.network] ?? '').trim();
    let network: CidrList | undefined;
    if (networkText !== '') {
      try {
        network = CidrList.parse(networkText);
      } catch (error) {
        throw new AuthConfigError(`${where}: user "${username}": ${(error as Error).message}`);
      }
    }
    const previous = users.get(username);
    if (previous) throw new AuthConfigError(`${where}: user "${username}" is already on line ${previous.line}`);
    users.set(username, { password, kind, network, line: record.line });
  }
  return users;
}

function column(record: CsvRecord, index: number, what: string, where: string): string {
  const value = record.fields[index];
  if (value === undefined) {
    throw new AuthConfigError(`${where}: no ${what} column ${index} (the record has ${record.fields.length} fields; columns count from 0)`);
  }
  return value;
}

function checkColumns(columns: CsvUserColumns): void {
  checkColumnIndex(columns.username, 'username');
  checkColumnIndex(columns.password, 'password');
  if (columns.network !== undefined) checkColumnIndex(columns.network, 'network');
  const used = [columns.username, columns.password, columns.network].filter((index) => index !== undefined);
  if (new Set(used).size !== used.length) throw new AuthConfigError('CSV username, password and network columns must differ');
}
