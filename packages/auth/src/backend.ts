import { createHash, timingSafeEqual } from 'node:crypto';

export type AuthMethod = 'PLAIN' | 'LOGIN' | 'CRAM-MD5';

/** One login attempt as the SMTP ingress saw it. */
export interface AuthRequest {
  username: string;
  /** The clear-text password (PLAIN, LOGIN); absent for CRAM-MD5. */
  password?: string;
  method: AuthMethod;
  /** CRAM-MD5: the challenge we sent, exactly as sent (before base64). */
  challenge?: string;
  /** CRAM-MD5: the hex HMAC-MD5 digest from the client's answer (the part after the user name). */
  challengeResponse?: string;
  /** The client's IP address (after PROXY protocol, if any). */
  remoteAddress: string;
}

export type AuthFailureReason =
  /** Wrong user name or password. */
  | 'invalid'
  /** Right credentials, but the user may not log in from this client address. */
  | 'network'
  /** The stored password is plain text and plain-text passwords are not allowed. */
  | 'insecure-password'
  /** The backend could not answer (down, timed out, broken): a temporary failure, not a wrong password. */
  | 'unavailable';

export type AuthResult = { ok: true; user: string } | { ok: false; reason: AuthFailureReason; detail?: string };

export interface AuthBackend {
  /** Scheme-ish name for logs, e.g. `file`, `ldap`, `csv`. Never contains secrets. */
  readonly name: string;
  /** True when the backend knows clear-text secrets, so CRAM-MD5 can be offered. */
  readonly plainSecrets: boolean;
  authenticate(request: AuthRequest): Promise<AuthResult>;
  close?(): Promise<void>;
}

/** A backend URL or provisioning source that cannot be used: reported at start-up, not per login. */
export class AuthConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthConfigError';
  }
}

export function ok(user: string): AuthResult {
  return { ok: true, user };
}

export function fail(reason: AuthFailureReason, detail?: string): AuthResult {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}

/**
 * Equality without an early exit. Both sides are hashed first so that neither the length nor the
 * position of the first difference shows in the timing.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

const MASK = '****';

/**
 * The URL as it may appear in logs and error messages: `hardcoded://` loses every password, other
 * URLs lose the password part of their user info (the RADIUS shared secret, HTTP credentials).
 */
export function maskAuthUrl(url: string): string {
  const hard = /^(hardcoded:\/\/)(.*)$/is.exec(url);
  if (hard?.[1] !== undefined && hard[2] !== undefined) {
    const pairs = hard[2].split(',').map((pair) => {
      const colon = pair.indexOf(':');
      // An item without a colon may be a password written in the refused `u1,p1` form.
      if (colon < 0) return pair.trim() === '' ? pair : MASK;
      return `${pair.slice(0, colon)}:${MASK}`;
    });
    return hard[1] + pairs.join(',');
  }
  const auth = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i.exec(url);
  if (auth?.[1] !== undefined && auth[2] !== undefined) {
    const colon = auth[2].indexOf(':');
    const user = colon < 0 ? auth[2] : auth[2].slice(0, colon);
    return `${auth[1]}${user}:${MASK}@${url.slice(auth[0].length)}`;
  }
  return url;
}

/** Rejects requests that no backend could accept, so each backend checks only its own rules. */
export function precheck(request: AuthRequest, plainSecrets: boolean): AuthResult | undefined {
  if (request.username === '') return fail('invalid', 'empty user name');
  if (request.method === 'CRAM-MD5') {
    if (!plainSecrets) return fail('invalid', 'CRAM-MD5 needs a backend with clear-text secrets');
    if (request.challenge === undefined || request.challengeResponse === undefined) {
      return fail('invalid', 'CRAM-MD5 without challenge or response');
    }
    return undefined;
  }
  // An empty password would turn an LDAP simple bind into an anonymous bind that "succeeds".
  if (request.password === undefined || request.password === '') return fail('invalid', 'empty password');
  return undefined;
}
