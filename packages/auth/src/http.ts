import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, maskAuthUrl, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';

/**
 * `http://host:port/path` and `https://…`: a GET carrying `Authorization: Basic base64(user:pass)`
 * (UTF-8, RFC 7617) and `X-Client-IP`; any 2xx accepts the login.
 *
 * 5xx answers and network trouble (refused, reset, DNS, TLS, timeout) are 'unavailable', so the
 * client gets a temporary 454 and tries again instead of being told its password is wrong; every
 * other status (401, 403, 3xx, 404, …) is 'invalid'. Redirects are not followed: a login endpoint
 * that redirects is misconfigured, and following it would send the credentials elsewhere.
 */
export class HttpBackend implements AuthBackend {
  readonly name: string;
  readonly plainSecrets = false;
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(url: string, options: { timeout: number; logger?: Logger }) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AuthConfigError(`${maskAuthUrl(url)} is not a valid URL`);
    }
    if (parsed.username !== '' || parsed.password !== '') {
      throw new AuthConfigError(`${maskAuthUrl(url)}: credentials in the URL are not supported; the login's own credentials are sent`);
    }
    this.name = parsed.protocol.replace(':', '');
    this.#url = parsed.href;
    this.#timeoutMs = Math.max(1, options.timeout * 1000);
    this.#logger = options.logger ?? silentLogger;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, false);
    if (rejected) return rejected;
    // RFC 7617: a user-id containing ':' cannot be expressed in Basic credentials.
    if (request.username.includes(':')) return fail('invalid', 'user name contains ":"');
    const token = Buffer.from(`${request.username}:${request.password ?? ''}`, 'utf8').toString('base64');
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'GET',
        headers: { authorization: `Basic ${token}`, 'x-client-ip': request.remoteAddress },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const detail = describeFetchError(error, this.#timeoutMs);
      this.#logger.warn({ backend: this.name, url: this.#url, user: request.username, detail }, 'auth endpoint unreachable');
      return fail('unavailable', detail);
    }
    // Drain nothing: cancelling releases the connection without reading a body we do not need.
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return ok(request.username);
    if (status >= 500) {
      this.#logger.warn({ backend: this.name, url: this.#url, status }, 'auth endpoint failed');
      return fail('unavailable', `HTTP ${status}`);
    }
    return fail('invalid', `HTTP ${status}`);
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
