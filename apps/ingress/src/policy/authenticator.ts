import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '@mtaq/config';
import {
  createAuthBackend,
  CsvNetworks,
  CsvUsers,
  AuthGuard,
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
 * pair, the concentrator CSV) tried in order. In front of them the {@link AuthGuard}: failed logins
 * throttled per client address (IPv6 per /64), a growing delay per account (never a lockout), and
 * at most `smtp-auth-concurrency` checks at once; counters shared through `redis-address`. Logs
 * name the user and the client, never the password.
 */
export class Authenticator {
  readonly #backends: AuthBackend[];
  readonly #guard: AuthGuard;
  readonly #checkTimeoutMs: number;
  readonly #log: Logger;
  readonly #networks: CsvNetworks | undefined;

  private constructor(backends: AuthBackend[], networks: CsvNetworks | undefined, config: Config, logger: Logger) {
    this.#backends = backends;
    this.#networks = networks;
    this.#log = logger.child({ component: 'auth' });
    this.#checkTimeoutMs = config['smtp-auth-timeout'] * 1000;
    this.#guard = new AuthGuard({
      maxFailures: config['smtp-auth-max-failures'],
      failureWindow: config['smtp-auth-failure-window'],
      delay: config['smtp-auth-delay'],
      // the client is idle while it waits: never so long that smtp-timeout closes it first
      maxDelay: Math.min(config['smtp-auth-delay-max'], config['smtp-timeout'] / 2),
      accountWindow: config['smtp-auth-account-window'],
      concurrency: config['smtp-auth-concurrency'],
      // no backend, no AUTH: no Redis connection either
      redis: backends.length > 0 ? config['redis-address'] : '',
      logger: this.#log,
    });
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
   * One AUTH attempt: refused at once while the client address is throttled; else it waits its
   * account's delay and a free check slot (454 4.7.0 if none comes within `smtp-auth-timeout`),
   * the address is checked again, then every backend in turn. Resolves with the user, or the
   * refusal to send (never rejects for a backend's fault). `gone` says the client has left: an
   * attempt abandoned during its delay is never checked, so dropped connections cannot fill the
   * check slots.
   */
  async authenticate(auth: SMTPServerAuthentication, session: SMTPServerSession, gone: () => boolean = () => false): Promise<AuthDecision> {
    const ip = session.remoteAddress;
    const throttled = (): AuthDecision => {
      this.#log.warn({ sid: session.id, remote: ip }, 'AUTH refused: too many failed logins');
      return { refusal: replies.loginThrottled };
    };
    if (await this.#guard.addressBlocked(ip)) return throttled();
    const account = auth.username ?? '';
    const wait = await this.#guard.accountAttempt(account);
    if (wait > 0) {
      this.#log.debug({ sid: session.id, remote: ip, user: account, delayMs: wait }, 'AUTH delayed: recent attempts on this account');
      await sleep(wait);
    }
    // nobody is waiting for the answer: no check (the attempt still counted for the account)
    if (gone()) return { refusal: replies.authUnavailable };
    const release = await this.#guard.acquire(this.#checkTimeoutMs);
    if (release === undefined) {
      this.#log.warn({ sid: session.id, remote: ip, user: account }, 'AUTH refused: too many password checks at once');
      return { refusal: replies.authUnavailable };
    }
    if (gone()) {
      release();
      return { refusal: replies.authUnavailable };
    }
    let result: AuthResult;
    try {
      // parallel attempts from one address all passed the first look: the failures they added count now
      if (await this.#guard.addressBlocked(ip)) return throttled();
      result = await this.#authenticate(auth, ip);
    } finally {
      release();
    }
    if (result.ok) {
      await this.#guard.success(ip, account);
      this.#log.info({ sid: session.id, remote: ip, user: result.user, method: auth.method }, 'authenticated');
      return { user: result.user };
    }
    if (result.reason !== 'unavailable') await this.#guard.addressFailure(ip);
    this.#log.warn({ sid: session.id, remote: ip, user: auth.username, method: auth.method, reason: result.reason }, 'authentication failed');
    return { refusal: authFailureReply(result) };
  }

  async close(): Promise<void> {
    for (const backend of this.#backends) await backend.close?.();
    await this.#guard.close();
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
