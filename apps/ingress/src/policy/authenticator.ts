import type { Config } from '@mtaq/config';
import {
  createAuthBackend,
  CsvNetworks,
  CsvUsers,
  LoginThrottle,
  type AuthBackend,
  type AuthMethod,
  type AuthResult,
} from '@mtaq/auth';
import type { Logger } from '@mtaq/log';
import { CidrList } from '@mtaq/net';
import { replies, type Reply } from '../smtp/replies.js';
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';

/** Who logged in, or the reply that refuses the attempt. */
export type AuthDecision = { user: string } | { refusal: Reply };

/**
 * SMTP AUTH for the ingress: every configured backend (`smtp-auth`, the ≤5.11 `smtp-username`
 * pair, the concentrator CSV) tried in order, failed logins throttled per client address. Logs
 * name the user and the client, never the password.
 */
export class Authenticator {
  readonly #backends: AuthBackend[];
  readonly #throttle: LoginThrottle;
  readonly #log: Logger;
  readonly #networks: CsvNetworks | undefined;

  private constructor(backends: AuthBackend[], networks: CsvNetworks | undefined, config: Config, logger: Logger) {
    this.#backends = backends;
    this.#networks = networks;
    this.#throttle = new LoginThrottle({ maxFailures: config['smtp-auth-max-failures'], window: config['smtp-auth-failure-window'] });
    this.#log = logger.child({ component: 'auth' });
  }

  /** Builds and starts (loads CSVs) everything the config asks for; throws on a bad backend URL or file. */
  static async create(config: Config, logger: Logger): Promise<Authenticator> {
    const timeout = config['smtp-auth-timeout'];
    const backends: AuthBackend[] = [];
    if (config['smtp-auth']) backends.push(createAuthBackend(config['smtp-auth'], { timeout, logger }));
    else if (config['smtp-username']) {
      backends.push(createAuthBackend(`hardcoded://${config['smtp-username']}:${config['smtp-password']}`, { timeout, logger }));
    }
    const reloadInterval = config['smtp-auth-csv-reload'];
    if (config['smtp-auth-csv']) {
      const users = new CsvUsers({
        source: config['smtp-auth-csv'],
        columns: parseColumns(config['smtp-auth-csv-columns']),
        header: config['smtp-auth-csv-header'],
        reloadInterval,
        allowPlainPasswords: config['smtp-auth-csv-insecure-passwords'],
        timeout,
        logger,
      });
      await users.start();
      backends.push(users);
    }
    let networks: CsvNetworks | undefined;
    if (config['smtp-trusted-networks-csv']) {
      networks = new CsvNetworks({
        source: config['smtp-trusted-networks-csv'],
        column: config['smtp-trusted-networks-csv-column'],
        header: config['smtp-auth-csv-header'],
        reloadInterval,
        timeout,
        logger,
      });
      await networks.start();
    }
    return new Authenticator(backends, networks, config, logger);
  }

  get configured(): boolean {
    return this.#backends.length > 0;
  }

  /** CRAM-MD5 only when some backend can produce the plain secret it needs. */
  get mechanisms(): string[] {
    return ['PLAIN', 'LOGIN', ...(this.#backends.some((b) => b.plainSecrets) ? ['CRAM-MD5'] : [])];
  }

  /** Networks provisioned from the trusted-networks CSV (empty without one). */
  trustedNetworks(): CidrList {
    return this.#networks?.ranges ?? CidrList.empty;
  }

  /**
   * One AUTH attempt: refused at once while the client address is throttled, else every backend
   * in turn. Resolves with the user, or the refusal to send (never rejects for a backend's fault).
   */
  async authenticate(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<AuthDecision> {
    const ip = session.remoteAddress;
    if (this.#throttle.blocked(ip)) {
      this.#log.warn({ sid: session.id, remote: ip }, 'AUTH refused: too many failed logins');
      return { refusal: replies.loginThrottled };
    }
    const result = await this.#authenticate(auth, ip);
    if (result.ok) {
      this.#throttle.success(ip);
      this.#log.info({ sid: session.id, remote: ip, user: result.user, method: auth.method }, 'authenticated');
      return { user: result.user };
    }
    if (result.reason !== 'unavailable') this.#throttle.failure(ip);
    this.#log.warn({ sid: session.id, remote: ip, user: auth.username, method: auth.method, reason: result.reason }, 'authentication failed');
    return { refusal: authFailureReply(result) };
  }

  async close(): Promise<void> {
    for (const backend of this.#backends) await backend.close?.();
    await this.#networks?.close();
  }

  /** First backend that says yes wins; "unavailable" is reported only if no backend said no. */
  async #authenticate(auth: SMTPServerAuthentication, remoteAddress: string): Promise<AuthResult> {
    let worst: AuthResult = { ok: false, reason: 'invalid' };
    const request = {
      username: auth.username ?? '',
      method: auth.method as AuthMethod,
      remoteAddress,
      ...(auth.password !== undefined && auth.password !== null ? { password: auth.password } : {}),
      ...(auth.challenge ? { challenge: auth.challenge } : {}),
      ...(auth.challengeResponse ? { challengeResponse: auth.challengeResponse } : {}),
    };
    let sawNo = false;
    for (const backend of this.#backends) {
      if (auth.method === 'CRAM-MD5' && !backend.plainSecrets) continue;
      const result = await backend.authenticate(request).catch((): AuthResult => ({ ok: false, reason: 'unavailable' }));
      if (result.ok) return result;
      if (result.reason === 'unavailable') {
        if (!sawNo) worst = result;
      } else {
        sawNo = true;
        worst = result;
      }
    }
    return worst;
  }
}

/**
 * The reply for a failed login: backend trouble is temporary (454, the client may retry later),
 * everything else is the RFC 4954 535 that does not say which part was wrong.
 */
export function authFailureReply(result: AuthResult & { ok: false }): Reply {
  return result.reason === 'unavailable' ? replies.authUnavailable : replies.authInvalid;
}

function parseColumns(text: string): { username: number; password: number; network?: number } {
  const columns: Record<string, number> = {};
  for (const part of text.split(',')) {
    const [name, index] = part.split('=').map((s) => s.trim());
    if (name && index !== undefined) columns[name] = Number(index);
  }
  return {
    username: columns['username'] ?? 0,
    password: columns['password'] ?? 1,
    ...(columns['network'] !== undefined ? { network: columns['network'] } : {}),
  };
}
