import { createHash, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { encrypt as cryptEncrypt, verify as cryptVerify } from 'unixcrypt';
import { safeEqual } from './backend.js';

/** What `hashPassword` can produce. */
export type PasswordScheme = 'bcrypt' | 'sha512-crypt' | 'sha256-crypt' | 'sha256' | 'sha384' | 'sha512';

/** What a stored password turned out to be: a hash kind, or a clear-text password. */
export type StoredPasswordKind = PasswordScheme | 'plain';

/** A stored value that announces a hash kind but is not a well-formed hash of that kind. */
export class PasswordFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PasswordFormatError';
  }
}

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
// crypt(3) SHA-2: `$5$[rounds=N$]salt$hash`, salt at most 16 characters, hash 43 (sha256) / 86 (sha512).
const SHA256_CRYPT = /^\$5\$(rounds=\d{1,9}\$)?[./A-Za-z0-9]{0,16}\$[./A-Za-z0-9]{43}$/;
const SHA512_CRYPT = /^\$6\$(rounds=\d{1,9}\$)?[./A-Za-z0-9]{0,16}\$[./A-Za-z0-9]{86}$/;
const SALTED = /^(sha256|sha384|sha512):([^:]*):(.*)$/is;
const DIGEST_HEX_LENGTH = { sha256: 64, sha384: 96, sha512: 128 } as const;
const HEX = /^(?:[0-9a-f]{2})*$/i;

type Salted = 'sha256' | 'sha384' | 'sha512';

/**
 * Classifies a stored password. Values that start like a hash (`bcrypt:`, `sha256:`, `sha384:`,
 * `sha512:`, `$2?$`, `$5$`, `$6$`) must be well-formed: a typo in a hash is reported instead of
 * being silently treated as a clear-text password nobody can type. Other `$id$` crypt kinds (MD5
 * `$1$`, yescrypt `$y$`, ...) are refused by name. Everything else is a clear-text password.
 * @throws PasswordFormatError naming what is wrong (never the value itself).
 */
export function storedPasswordKind(stored: string): StoredPasswordKind {
  const value = normalizeHash(stored);
  if (/^bcrypt:/i.test(value)) {
    if (!BCRYPT.test(value.slice('bcrypt:'.length))) throw new PasswordFormatError('malformed bcrypt hash after "bcrypt:"');
    return 'bcrypt';
  }
  if (value.startsWith('$2')) {
    if (!BCRYPT.test(value)) throw new PasswordFormatError('malformed bcrypt hash (expected $2a$/$2b$/$2y$, cost 04-31, 53 characters)');
    return 'bcrypt';
  }
  if (value.startsWith('$5$')) {
    if (!SHA256_CRYPT.test(value)) throw new PasswordFormatError('malformed sha256-crypt ($5$) hash');
    return 'sha256-crypt';
  }
  if (value.startsWith('$6$')) {
    if (!SHA512_CRYPT.test(value)) throw new PasswordFormatError('malformed sha512-crypt ($6$) hash');
    return 'sha512-crypt';
  }
  const crypt = /^\$([0-9a-z]+)\$/i.exec(value);
  if (crypt) {
    throw new PasswordFormatError(
      `unsupported crypt hash kind "$${crypt[1]}$" (supported: $6$ sha512-crypt, $5$ sha256-crypt, $2a$/$2b$/$2y$ bcrypt)`,
    );
  }
  const salted = SALTED.exec(value);
  if (salted) {
    const algorithm = salted[1]!.toLowerCase() as Salted;
    const salt = salted[2]!;
    const digest = salted[3]!;
    if (!HEX.test(salt)) throw new PasswordFormatError(`${algorithm}: the salt must be hex digits (an even number of them)`);
    if (digest.length !== DIGEST_HEX_LENGTH[algorithm] || !HEX.test(digest)) {
      throw new PasswordFormatError(`${algorithm}: the hash must be ${DIGEST_HEX_LENGTH[algorithm]} hex digits`);
    }
    return algorithm;
  }
  return 'plain';
}

/**
 * True when `given` matches `stored` in any format `storedPasswordKind` knows (a clear-text stored
 * value is compared as is, in constant time; whether clear text is acceptable is the caller's
 * policy). Never throws: a malformed stored value simply matches nothing.
 *
 * The concentrator's `shaNNN:SALT:HASH` is HASH = hex(SHA-NNN(password bytes || salt bytes)) with
 * SALT written in hex. The seed does not spell this out; it is the one reading under which all three
 * of its example hashes verify (user5/password5, user6/password6, user7/password7).
 */
export async function verifyPassword(stored: string, given: string): Promise<boolean> {
  let kind: StoredPasswordKind;
  try {
    kind = storedPasswordKind(stored);
  } catch {
    return false;
  }
  if (kind === 'plain') return safeEqual(stored, given);
  const value = normalizeHash(stored);
  switch (kind) {
    case 'bcrypt':
      return bcrypt.compare(given, value.replace(/^bcrypt:/i, ''));
    case 'sha256-crypt':
    case 'sha512-crypt':
      try {
        // unixcrypt compares in constant time but throws when the lengths differ.
        return cryptVerify(given, value);
      } catch {
        return false;
      }
    case 'sha256':
    case 'sha384':
    case 'sha512': {
      const [, salt = '', digest = ''] = value.split(':');
      return safeEqual(saltedDigest(kind, given, salt), digest.toLowerCase());
    }
  }
}

/**
 * Hashes a password for the CSV users file or the `file://` backend. Forms returned:
 * `bcrypt` → `bcrypt:$2b$10$…` (the concentrator's prefixed form), `sha256`/`sha384`/`sha512` →
 * `shaNNN:<32 hex salt>:<hex digest>`, `sha512-crypt` → `$6$…`, `sha256-crypt` → `$5$…` (crypt(3)
 * forms, as `openssl passwd -6/-5` writes them). The CSV accepts all of them; `file://` accepts the
 * crypt forms and bcrypt with or without the prefix.
 */
export async function hashPassword(password: string, scheme: PasswordScheme = 'bcrypt', options: { cost?: number } = {}): Promise<string> {
  switch (scheme) {
    case 'bcrypt':
      return `bcrypt:${await bcrypt.hash(password, options.cost ?? 10)}`;
    case 'sha512-crypt':
      return cryptEncrypt(password, `$6$${cryptSalt()}`);
    case 'sha256-crypt':
      return cryptEncrypt(password, `$5$${cryptSalt()}`);
    case 'sha256':
    case 'sha384':
    case 'sha512': {
      const salt = randomBytes(16).toString('hex');
      return `${scheme}:${salt}:${saltedDigest(scheme, password, salt)}`;
    }
  }
}

function saltedDigest(algorithm: Salted, password: string, saltHex: string): string {
  return createHash(algorithm).update(password, 'utf8').update(Buffer.from(saltHex, 'hex')).digest('hex');
}

/**
 * Hash alphabets have no white space, so any found is a line wrap from whoever pasted the hash
 * (the seed's own example file has hashes broken across lines inside quotes).
 */
function normalizeHash(stored: string): string {
  const compact = stored.replace(/\s+/g, '');
  return /^(bcrypt:|sha(256|384|512):|\$)/i.test(compact) ? compact : stored;
}

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * unixcrypt's own salt is used only when none is given, and `$5$` alone yields an empty salt; 16
 * characters (96 bits) is the most crypt(3) reads.
 */
function cryptSalt(): string {
  return [...randomBytes(16)].map((byte) => CRYPT_ALPHABET[byte & 63]).join('');
}
