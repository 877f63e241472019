import { AuthConfigError, createAuthBackend, LoginThrottle, type AuthBackend } from '@mtaq/auth';
import type { Logger } from '@mtaq/log';
import { WwwConfigError, type TokenCheck } from '../auth.js';

/** Seconds one login may take at a remote backend (ldap, radius, http, exec). */
const LOGIN_TIMEOUT = 10;

/**
 * Who may log in to the console. With `www-auth`: that backend (the same URL schemes and code as
 * `smtp-auth`, packages/auth). Without it: any user name with one of the `www-token` tokens as
 * the password, so the REST API's secret is also the console's. Without either there is no login
 * and so no console (never an open console: `www-ip` may be reachable from elsewhere, and even a
 * loopback one is reachable by every local user and by DNS-rebinding pages).
 */
export class ConsoleLogin {
  readonly #backend: AuthBackend | undefined;
  readonly #tokens: TokenCheck;
  // failed logins per client address, in memory: 10 within 5 minutes, then refused for a while
  readonly #throttle = new LoginThrottle({ maxFailures: 10, window: 300 });
  readonly #log: Logger;

  constructor(auth: string, tokens: TokenCheck, logger: Logger) {
    this.#log = logger;
    this.#tokens = tokens;
    try {
      this.#backend = auth ? createAuthBackend(auth, { timeout: LOGIN_TIMEOUT, logger }) : undefined;
    } catch (err) {
      if (err instanceof AuthConfigError) throw new WwwConfigError(`www-auth: ${err.message}`);
      throw err;
    }
  }

  /** False when neither www-auth nor www-token is set: the console then explains how to turn it on. */
  get enabled(): boolean {
    return this.#backend !== undefined || this.#tokens.configured;
  }

  /** How one logs in, for the login page. */
  get method(): 'www-auth' | 'www-token' | 'none' {
    return this.#backend ? 'www-auth' : this.#tokens.configured ? 'www-token' : 'none';
  }

  /** The user name on success; undefined after a wrong password, a throttled address or a backend fault. */
  async check(username: string, password: string, remoteAddress: string): Promise<{ user: string } | { refused: string }> {
    if (this.#throttle.blocked(remoteAddress)) {
      this.#log.warn({ remote: remoteAddress }, 'console login refused: too many failed logins');
      return { refused: 'Too many failed logins from this address: try again in a few minutes.' };
    }
    let ok = false;
    let unavailable = false;
    if (username !== '' && password !== '') {
      if (this.#backend) {
        const result = await this.#backend.authenticate({ username, password, method: 'PLAIN', remoteAddress });
        ok = result.ok;
        unavailable = !result.ok && result.reason === 'unavailable';
      } else {
        ok = this.#tokens.match(`Bearer ${password}`) > 0;
      }
    }
    if (ok) {
      this.#throttle.success(remoteAddress);
      this.#log.info({ user: username, remote: remoteAddress }, 'console login');
      return { user: username };
    }
    if (unavailable) return { refused: 'The login backend cannot be reached: try again later.' };
    this.#throttle.failure(remoteAddress);
    this.#log.warn({ user: username, remote: remoteAddress }, 'console login failed');
    return { refused: 'Wrong user name or password.' };
  }

  async close(): Promise<void> {
    await this.#backend?.close?.();
  }
}

/** Why `www-auth` cannot be used (bad URL, unreadable file), as one line; undefined when it can. */
export function consoleLoginProblem(auth: string): string | undefined {
  if (!auth) return undefined;
  try {
    void createAuthBackend(auth, { timeout: LOGIN_TIMEOUT }).close?.().catch(() => undefined);
    return undefined;
  } catch (err) {
    if (err instanceof AuthConfigError) return `www-auth: ${err.message}`;
    throw err;
  }
}
