import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Name of the console's session cookie. */
export const SESSION_COOKIE = 'mtaq_console';

export interface Session {
  readonly user: string;
  /** Random per login: the CSRF token is derived from it, so a new login means a new token. */
  readonly sid: string;
  /** Expiry, ms since the epoch. */
  readonly expires: number;
}

/**
 * Signed session cookies: `base64url(JSON).base64url(HMAC-SHA256)`, with a key drawn at random
 * when the process starts. Nothing is stored server-side, so sessions cost no memory; a restart
 * draws a new key and so logs everyone out, which is the price of never writing a key to disk.
 * Each process (each www-port) has its own key: a login is valid on the process it was made on.
 */
export class SessionSigner {
  readonly #key: Buffer;

  constructor(
    /** Seconds a login lasts. */
    readonly lifetime = 8 * 3600,
    key: Buffer = randomBytes(32),
  ) {
    this.#key = key;
  }

  /** HMAC of `purpose` and `value` under this process's key (sessions, CSRF tokens). */
  mac(purpose: string, value: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}\0${value}`).digest('base64url');
  }

  /** Constant-time check of a MAC made by {@link mac}. */
  verifyMac(purpose: string, value: string, given: string): boolean {
    const expected = Buffer.from(this.mac(purpose, value));
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  issue(user: string, now = Date.now()): { session: Session; cookie: string } {
    const session: Session = { user, sid: randomBytes(16).toString('base64url'), expires: now + this.lifetime * 1000 };
    const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
    return { session, cookie: `${payload}.${this.mac('session', payload)}` };
  }

  /** The session a cookie value stands for, or undefined when it is forged, malformed or expired. */
  read(cookie: string | undefined, now = Date.now()): Session | undefined {
    if (!cookie) return undefined;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = cookie.slice(0, dot);
    if (!this.verifyMac('session', payload, cookie.slice(dot + 1))) return undefined;
    try {
      const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Session>;
      if (typeof parsed.user !== 'string' || typeof parsed.sid !== 'string' || typeof parsed.expires !== 'number') return undefined;
      return parsed.expires > now ? (parsed as Session) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** One cookie from a `Cookie` header (no cookie library needed for the two the console sets). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A `Set-Cookie` value: HttpOnly (no script reads it), SameSite=Strict (no other site's page
 * sends it), Path=/; Secure when the request came over TLS (a TLS-terminating proxy in front).
 */
export function setCookie(name: string, value: string, options: { maxAge: number; secure: boolean }): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${options.maxAge}${options.secure ? '; Secure' : ''}`;
}
