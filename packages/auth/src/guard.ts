import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '@mtaq/log';
import { clientKey, LoginThrottle } from './throttle.js';

export interface AuthGuardOptions {
  /** Per client address (IPv6 per /64): failed logins within `failureWindow` before AUTH is refused; 0 = never. */
  maxFailures: number;
  /** Seconds over which those failures are counted. */
  failureWindow: number;
  /** Per account: seconds waited before the check once the account has a failure; doubles per attempt. 0 = off. */
  delay: number;
  /** Per account: the most any attempt waits, in seconds. */
  maxDelay: number;
  /** Per account: seconds without an attempt after which the account's count starts again. */
  accountWindow: number;
  /** Password checks running at once in this process. */
  concurrency: number;
  /** `redis-address`: counters shared by every process and node; empty = this process only. */
  redis?: string;
  /** Redis key prefix; default `mtaq:auth:`. */
  prefix?: string;
  logger?: Logger;
}

/**
 * KEYS[1] = the account's counter. ARGV = window ms. One more attempt since the account's last
 * success; the count is forgotten after a quiet window.
 */
const ACCOUNT_ATTEMPT = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`;

/**
 * KEYS[1] = the address's list of failure times (ms, Redis clock). ARGV = max, window ms, record.
 * Returns the failures inside the window (after recording one when ARGV[3] = 1). A sliding window
 * like the in-process one: at most `max` times are kept.
 */
const ADDRESS_FAILURES = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
if ARGV[3] == '1' then
  redis.call('RPUSH', KEYS[1], now)
  redis.call('LTRIM', KEYS[1], -max, -1)
  redis.call('PEXPIRE', KEYS[1], window)
end
local n = 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if tonumber(v) > now - window then n = n + 1 end
end
return n
`;

interface GuardCommands {
  mtaqAuthAccount(key: string, windowMs: number): Promise<number>;
  mtaqAuthAddress(key: string, max: number, windowMs: number, record: 0 | 1): Promise<number>;
}

/** Per-account counters in this process: attempts since the last success, forgotten after a quiet window. */
class LocalAccounts {
  readonly #entries = new Map<string, { n: number; expires: number }>();
  readonly #maxEntries = 100_000;

  attempt(key: string, windowMs: number): number {
    const now = Date.now();
    const old = this.#entries.get(key);
    const n = old !== undefined && old.expires > now ? old.n + 1 : 1;
    this.#entries.delete(key);
    this.#entries.set(key, { n, expires: now + windowMs });
    // Insertion order is last-attempt order: the first entries are the stalest.
    for (const [k, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && e.expires > now) break;
      this.#entries.delete(k);
    }
    return n;
  }

  success(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * What stands between an AUTH command and the password check:
 *
 * - per client address (IPv6 per /64): `maxFailures` failures in `failureWindow` and AUTH is
 *   refused at once (the old {@link LoginThrottle} rule);
 * - per account: every attempt since the account's last success counts; from the second one on,
 *   the attempt waits `delay` seconds, doubling per attempt up to `maxDelay`, before its password
 *   is checked. Never a lockout: the real user gets in after at most `maxDelay`, while a spray
 *   against the account gets one answer per `maxDelay` per connection it holds open;
 * - per process: at most `concurrency` checks at once; the others queue.
 *
 * The counters live in Redis (`mtaq:auth:` keys, account names hashed) so that every worker and
 * node shares them; while Redis is unreachable the process counts on its own (fail open to
 * local counters, never refusing because Redis is away). No password ever comes here.
 */
export class AuthGuard {
  readonly #options: AuthGuardOptions;
  readonly #prefix: string;
  readonly #log: Logger | undefined;
  readonly #redis: Redis | undefined;
  readonly #addresses: LoginThrottle;
  readonly #accounts = new LocalAccounts();
  #fallback = false;
  /** Until the first connection attempt settles, callers wait for it rather than count locally. */
  #firstAttempt: Promise<void> = Promise.resolve();
  #running = 0;
  readonly #queue: Array<() => void> = [];

  constructor(options: AuthGuardOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'mtaq:auth:';
    this.#log = options.logger;
    this.#addresses = new LoginThrottle({ maxFailures: options.maxFailures, window: options.failureWindow });
    if (options.redis) {
      const redis = new Redis(options.redis, {
        connectionName: 'mtaq-auth',
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 1000,
        commandTimeout: 500,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      });
      redis.defineCommand('mtaqAuthAccount', { numberOfKeys: 1, lua: ACCOUNT_ATTEMPT });
      redis.defineCommand('mtaqAuthAddress', { numberOfKeys: 1, lua: ADDRESS_FAILURES });
      redis.on('error', (err: Error) => this.#log?.debug({ err: err.message }, 'auth counters: Redis connection error'));
      redis.on('ready', () => {
        if (this.#fallback) this.#log?.warn('auth counters: Redis is back, login throttles are shared again');
        this.#fallback = false;
      });
      this.#redis = redis;
      this.#firstAttempt = new Promise<void>((resolve) => {
        const settle = (): void => {
          clearTimeout(timer);
          redis.off('ready', settle);
          redis.off('error', settle);
          resolve();
        };
        const timer = setTimeout(settle, 1200);
        timer.unref();
        redis.on('ready', settle);
        redis.on('error', settle);
      });
    }
  }

  /** True when the counters are this process's own right now (no Redis configured, or it is away). */
  get local(): boolean {
    return this.#redis === undefined || this.#fallback || this.#redis.status !== 'ready';
  }

  /** True when `ip` has used up its failures: refuse without asking a backend. */
  async addressBlocked(ip: string): Promise<boolean> {
    if (this.#options.maxFailures <= 0) return false;
    const shared = await this.#shared((c) => c.mtaqAuthAddress(this.#addressKey(ip), this.#options.maxFailures, this.#windowMs, 0));
    return shared === undefined ? this.#addresses.blocked(ip) : shared >= this.#options.maxFailures;
  }

  async addressFailure(ip: string): Promise<void> {
    if (this.#options.maxFailures <= 0) return;
    this.#addresses.failure(ip);
    await this.#shared((c) => c.mtaqAuthAddress(this.#addressKey(ip), this.#options.maxFailures, this.#windowMs, 1));
  }

  /**
   * Counts one attempt on `username` and answers how long (ms) it must wait before its check:
   * 0 for the first since the last success, then `delay`, 2×`delay`, … up to `maxDelay`.
   */
  async accountAttempt(username: string): Promise<number> {
    if (this.#options.delay <= 0) return 0;
    const windowMs = this.#options.accountWindow * 1000;
    const key = this.#accountKey(username);
    const local = this.#accounts.attempt(key, windowMs);
    const shared = await this.#shared((c) => c.mtaqAuthAccount(key, windowMs));
    return accountDelay(shared ?? local, this.#options.delay * 1000, this.#options.maxDelay * 1000);
  }

  /** A good login: the address's failures and the account's attempts are forgotten. */
  async success(ip: string, username: string): Promise<void> {
    this.#addresses.success(ip);
    const key = this.#accountKey(username);
    this.#accounts.success(key);
    await this.#shared((c) => (c as unknown as Redis).del(this.#addressKey(ip), key));
  }

  /**
   * Waits for one of the `concurrency` check slots; resolves with its release, or undefined when
   * none came free within `timeoutMs` (the caller answers 454 4.7.0, the client retries).
   */
  acquire(timeoutMs: number): Promise<(() => void) | undefined> {
    const release = (): void => {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    };
    if (this.#running < Math.max(1, this.#options.concurrency)) {
      this.#running++;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => {
      const take = (): void => {
        clearTimeout(timer);
        resolve(release);
      };
      const timer = setTimeout(() => {
        const at = this.#queue.indexOf(take);
        if (at >= 0) this.#queue.splice(at, 1);
        resolve(undefined);
      }, timeoutMs);
      this.#queue.push(take);
    });
  }

  /** Checks running now (for tests and metrics). */
  get running(): number {
    return this.#running;
  }

  async close(): Promise<void> {
    const redis = this.#redis;
    if (redis === undefined) return;
    if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
    else redis.disconnect();
  }

  get #windowMs(): number {
    return this.#options.failureWindow * 1000;
  }

  #addressKey(ip: string): string {
    return `${this.#prefix}addr:${clientKey(ip)}`;
  }

  #accountKey(username: string): string {
    return `${this.#prefix}acct:${accountHash(username)}`;
  }

  /** `op` against Redis, or undefined (and the local counters are used) when it is not there. */
  async #shared<T>(op: (c: GuardCommands) => Promise<T>): Promise<T | undefined> {
    const redis = this.#redis;
    if (redis === undefined) return undefined;
    if (redis.status !== 'ready') await this.#firstAttempt;
    if (redis.status !== 'ready') {
      this.#enterFallback(`connection is ${redis.status}`);
      return undefined;
    }
    try {
      return await op(redis as unknown as GuardCommands);
    } catch (err) {
      this.#enterFallback(err instanceof Error ? err.message : String(err));
      return undefined;
    }
  }

  #enterFallback(reason: string): void {
    if (this.#fallback) return;
    this.#fallback = true;
    this.#log?.error({ reason }, 'auth counters: Redis unreachable, login throttles now count in this process only');
  }
}

/** The wait before the `n`-th attempt since the last success (ms). */
export function accountDelay(n: number, baseMs: number, maxMs: number): number {
  if (n <= 1 || baseMs <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(n - 2, 30));
}

/** The account name as it appears in Redis keys: case-folded and hashed, never in clear. */
export function accountHash(username: string): string {
  return createHash('sha256').update(`mtaq-auth\0${username.trim().toLowerCase()}`).digest('hex').slice(0, 32);
}
