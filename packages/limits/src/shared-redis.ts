import { Redis } from 'ioredis';
import type { Logger } from '@mtaq/log';

const CONNECT_TIMEOUT_MS = 1000;
const COMMAND_TIMEOUT_MS = 1000;
/**
 * While in fallback, Redis is asked again at most this often. A Redis that hangs rather than fails
 * (frozen, overloaded) would otherwise cost every caller a full command timeout.
 */
const RETRY_INTERVAL_MS = 2000;

function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:)[^@/?#]*@/i, '$1********@');
}

/**
 * The Redis connection plus the "is it usable" decision. Calls must fail fast while Redis is away
 * (no offline queue, no per-request retries, short timeouts) because a delivery waiting on a dead
 * Redis is worse than one running on the local share; reconnection goes on in the background.
 */
export class SharedRedis {
  readonly client: Redis | undefined;
  /** The URL with any password masked, for logs. */
  private readonly where: string;
  private fallback = false;
  private closing = false;
  private firstAttempt: Promise<void> = Promise.resolve();
  private recovering: Promise<boolean> | undefined;
  private nextRecovery = 0;

  /** `resync` runs when Redis is back, before anything else uses it: it re-registers what was taken locally. */
  constructor(
    url: string,
    private readonly logger: Logger,
    private readonly resync: (client: Redis) => Promise<unknown>,
  ) {
    const where = maskPassword(url);
    this.where = where;
    if (url === '') return;
    try {
      this.client = new Redis(url, {
        connectionName: 'mtaq-limits',
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
        retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      });
    } catch (err) {
      this.enterFallback(err);
      return;
    }
    const client = this.client;
    // Until the first attempt settles, callers wait for it instead of logging a false outage at start-up.
    this.firstAttempt = new Promise<void>((resolve) => {
      const settle = (): void => {
        clearTimeout(timer);
        client.off('ready', settle);
        client.off('error', settle);
        resolve();
      };
      const timer = setTimeout(settle, CONNECT_TIMEOUT_MS + 200);
      timer.unref();
      client.on('ready', settle);
      client.on('error', settle);
    });
    // Connection errors repeat every reconnect attempt; the outage itself is logged once, loudly.
    client.on('error', (err: Error) => this.logger.debug({ err, redis: where }, 'Redis connection error'));
    client.on('close', () => {
      if (!this.closing) this.enterFallback(new Error('connection closed'));
    });
    client.on('ready', () => {
      if (this.fallback && !this.closing) void this.recover();
    });
  }

  /** True while limits are checked against this process's share instead of Redis. */
  get inFallback(): boolean {
    return this.fallback;
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  /** `op`'s result, or undefined when Redis is not configured or not usable right now (never throws). */
  async run<T>(op: (client: Redis) => Promise<T>): Promise<T | undefined> {
    const client = this.client;
    if (client === undefined || this.closing) return undefined;
    if (client.status !== 'ready') await this.firstAttempt;
    if (client.status !== 'ready') {
      this.enterFallback(new Error(`connection is ${client.status}`));
      return undefined;
    }
    if (this.fallback) {
      if (this.recovering === undefined && Date.now() < this.nextRecovery) return undefined;
      if (!(await this.recover())) return undefined;
    }
    try {
      return await op(client);
    } catch (err) {
      this.enterFallback(err);
      return undefined;
    }
  }

  private enterFallback(err: unknown): void {
    this.nextRecovery = Date.now() + RETRY_INTERVAL_MS;
    if (this.fallback || this.closing) return;
    this.fallback = true;
    this.logger.error(
      { err, redis: this.where },
      'Redis unreachable: connection and message limits now use this process\'s share (limit / delivery-processes) until it is back',
    );
  }

  private recover(): Promise<boolean> {
    const client = this.client;
    if (client === undefined) return Promise.resolve(false);
    this.recovering ??= (async () => {
      try {
        await this.resync(client);
        if (this.fallback) this.logger.warn({ redis: this.where }, 'Redis is back: connection and message limits are shared across the cluster again');
        this.fallback = false;
        return true;
      } catch (err) {
        this.nextRecovery = Date.now() + RETRY_INTERVAL_MS;
        this.logger.debug({ err, redis: this.where }, 'Redis not usable yet');
        return false;
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    if (client === undefined) return;
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // Fall through: the socket is going away either way.
      }
    }
    client.disconnect();
  }
}
