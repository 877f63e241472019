import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';

/**
 * `ldap://host:port/base_dn`, `ldaps://…`: the login succeeds iff a simple bind as
 * `uid=<user>,<base_dn>` with the password succeeds. One short connection per login: binds are
 * rare next to mail, and a fresh connection never carries a previous user's identity.
 *
 * An LDAP result code of invalidCredentials (49) is 'invalid'; so are the codes that say this
 * user cannot bind (no such object, inappropriate auth, unwilling to perform). Everything else —
 * connection refused or lost, TLS failure, timeout, server busy or unavailable — is 'unavailable'.
 * Empty passwords never reach the server (an empty simple bind is an anonymous bind that succeeds).
 */
export class LdapBackend implements AuthBackend {
  readonly name: string;
  readonly plainSecrets = false;
  readonly #serverUrl: string;
  readonly #baseDn: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(url: string, options: { timeout: number; logger?: Logger }) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AuthConfigError(`${url} is not a valid URL (expected ldap://host:port/base_dn)`);
    }
    const scheme = parsed.protocol.replace(':', '').toLowerCase();
    if (scheme !== 'ldap' && scheme !== 'ldaps') throw new AuthConfigError(`${url}: not an ldap:// or ldaps:// URL`);
    if (parsed.hostname === '') throw new AuthConfigError(`${url}: no host`);
    const baseDn = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    if (baseDn === '') throw new AuthConfigError(`${url}: no base DN (expected ldap://host:port/ou=people,dc=example,dc=com)`);
    this.name = scheme;
    this.#serverUrl = `${scheme}://${parsed.host}`;
    this.#baseDn = baseDn;
    this.#timeoutMs = Math.max(1, options.timeout * 1000);
    this.#logger = options.logger ?? silentLogger;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, false);
    if (rejected) return rejected;
    const dn = `uid=${escapeDnValue(request.username)},${this.#baseDn}`;
    let ldapts: typeof import('ldapts');
    try {
      // loaded with the first login over LDAP: a process without this backend never loads it
      ldapts = await import('ldapts');
    } catch (error) {
      this.#logger.error({ backend: this.name, err: (error as Error).message }, 'the ldapts package cannot be loaded');
      return fail('unavailable', 'the ldapts package cannot be loaded');
    }
    const { Client, InvalidCredentialsError, ResultCodeError } = ldapts;
    const client = new Client({ url: this.#serverUrl, timeout: this.#timeoutMs, connectTimeout: this.#timeoutMs });
    // ldapts applies its timeout per operation; this bounds connect + bind together.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#timeoutMs);
    });
    try {
      const outcome = await Promise.race([client.bind(dn, request.password ?? '').then(() => 'bound' as const), deadline]);
      if (outcome === 'timeout') {
        this.#logger.warn({ backend: this.name, server: this.#serverUrl }, 'LDAP bind timed out');
        return fail('unavailable', `no answer within ${this.#timeoutMs / 1000} s`);
      }
      return ok(request.username);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) return fail('invalid', 'invalid credentials');
      if (error instanceof ResultCodeError && USER_CANNOT_BIND.has(error.code)) return fail('invalid', `LDAP result ${error.code}`);
      const detail = error instanceof ResultCodeError ? `LDAP result ${error.code}` : describe(error);
      this.#logger.warn({ backend: this.name, server: this.#serverUrl, detail }, 'LDAP server unavailable');
      return fail('unavailable', detail);
    } finally {
      clearTimeout(timer);
      // unbind() on a connection that never opened or already died must not mask the result.
      client.unbind().catch(() => undefined);
    }
  }
}

/** noSuchObject, inappropriateAuthentication, invalidDNSyntax, unwillingToPerform. */
const USER_CANNOT_BIND = new Set([32, 48, 34, 53]);

/**
 * RFC 4514 §2.4: escape `"` `+` `,` `;` `<` `>` `\`, a leading space or `#`, a trailing space and
 * NUL. `=` (allowed escaped) and control characters are escaped too, so a user name can never end
 * the RDN, add an attribute to it or smuggle in a line break.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  let out = '';
  for (const [i, ch] of chars.entries()) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else if ('"+,;<>\\='.includes(ch)) out += `\\${ch}`;
    else if (ch === ' ' && (i === 0 || i === chars.length - 1)) out += '\\ ';
    else if (ch === '#' && i === 0) out += '\\#';
    else out += ch;
  }
  return out;
}

function describe(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}
