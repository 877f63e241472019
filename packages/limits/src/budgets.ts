import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Logger, silentLogger } from '@mtaq/log';
import { LocalLeases } from './local-leases.js';
import { LocalRates } from './local-rates.js';
import { RedisLeases, type Budget } from './redis-leases.js';
import { RedisRates, type RateAnswer } from './redis-rates.js';
import { effectiveLimits, localShare, type EffectiveLimits, type LimitRule, type RuleScope } from './rules.js';
import { SharedRedis } from './shared-redis.js';
import { sleep } from './sleep.js';

export interface BudgetsOptions {
  /** `redis-address`; '' = limits of this process only. */
  readonly redisUrl: string;
  readonly rules: readonly LimitRule[];
  /** `delivery-processes`: a process uses limit / processes on its own while Redis is down. */
  readonly processes: number;
  readonly logger?: Logger;
  /** Seconds a lease outlives a holder that stopped renewing it (default 15). */
  readonly leaseTtl?: number;
  /** Prefix of every Redis key (default `mtaq:`). */
  readonly keyPrefix?: string;
}

/** One delivery attempt's place in the budgets. */
export interface BudgetScope extends RuleScope {
  /** Key of the destination (its MX host set): domains sharing MX hosts share a budget. */
  readonly destination: string;
}

export interface Lease {
  readonly id: string;
  readonly scope: BudgetScope;
  /** Taken while Redis was unusable (or not configured), against this process's share. */
  readonly local: boolean;
  /** Frees the slot; safe to call more than once, never throws. */
  release(): Promise<void>;
}

export interface BudgetStats {
  /** Connection leases held by this process. */
  readonly leases: number;
  /** Callers waiting in `acquireConnection` / `waitForMessageSlot`. */
  readonly waiting: number;
  /** Redis configured but unusable: limits are this process's share. */
  readonly fallback: boolean;
  /** Whether limits are meant to be shared through Redis at all. */
  readonly shared: boolean;
}

export interface WaitOptions {
  readonly signal?: AbortSignal;
}

interface Held {
  readonly keys: readonly string[];
}

const FIRST_BACKOFF_MS = 25;
// Bounds how late a waiter notices a slot freed by another process.
const MAX_BACKOFF_MS = 500;

const encode = (part: string): string => encodeURIComponent(part);

/**
 * Connection and message-rate budgets shared by every delivery process of the cluster through
 * Redis, degrading to per-process shares when Redis is away. Over-limit callers wait (or are told
 * "not now"); nothing here fails a delivery because of a limit or because of Redis.
 */
export class Budgets {
  private readonly rules: readonly LimitRule[];
  private readonly processes: number;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly prefix: string;
  private readonly redis: SharedRedis;
  private readonly redisLeases: RedisLeases | undefined;
  private readonly redisRates: RedisRates | undefined;
  private readonly localLeases = new LocalLeases();
  private readonly localRates = new LocalRates();
  private readonly held = new Map<string, Held>();
  /** Waiters woken early when this process frees a slot, rather than at their next poll. */
  private readonly wakers = new Set<() => void>();
  private readonly renewTimer: NodeJS.Timeout;
  private readonly idBase = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private nextId = 0;
  private waiting = 0;
  private closed = false;

  constructor(options: BudgetsOptions) {
    this.rules = options.rules;
    this.processes = Math.max(1, options.processes);
    this.logger = (options.logger ?? silentLogger).child({ component: 'limits' });
    this.ttlMs = Math.max(0.1, options.leaseTtl ?? 15) * 1000;
    this.prefix = options.keyPrefix ?? 'mtaq:';
    this.redis = new SharedRedis(options.redisUrl, this.logger, () => this.renewAll());
    if (this.redis.client !== undefined) {
      this.redisLeases = new RedisLeases(this.redis.client);
      this.redisRates = new RedisRates(this.redis.client);
    }
    this.renewTimer = setInterval(() => void this.renewTick(), this.ttlMs / 3);
    // A held lease means an open connection, which keeps the process alive by itself.
    this.renewTimer.unref();
  }

  /** The limits that apply to `scope` (Infinity = unlimited). */
  limits(scope: RuleScope): EffectiveLimits {
    return effectiveLimits(this.rules, scope);
  }

  /** Waits for a connection slot in both the per-source and the destination-wide budget. */
  async acquireConnection(scope: BudgetScope, options: WaitOptions = {}): Promise<Lease> {
    const { signal } = options;
    // One id for every attempt: a retry after a lost Redis reply finds its own slot instead of taking a second.
    const id = this.newId();
    let backoff = FIRST_BACKOFF_MS;
    this.waiting++;
    try {
      for (;;) {
        signal?.throwIfAborted();
        this.assertOpen();
        const lease = await this.tryTake(scope, id);
        if (lease !== undefined) {
          if (signal?.aborted === true) {
            await lease.release();
            signal.throwIfAborted();
          }
          return lease;
        }
        await this.pause(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    } finally {
      this.waiting--;
    }
  }

  /** A connection slot if one is free right now. */
  async tryAcquireConnection(scope: BudgetScope): Promise<Lease | undefined> {
    this.assertOpen();
    return this.tryTake(scope, this.newId());
  }

  /** Counts one message against the per-minute budgets; false = over, park or delay it (nothing is counted). */
  async takeMessage(scope: BudgetScope): Promise<boolean> {
    return (await this.takeRate(scope)).allowed;
  }

  /** Resolves once a message may go (counted), waiting for the next minute when over. */
  async waitForMessageSlot(scope: BudgetScope, options: WaitOptions = {}): Promise<void> {
    const { signal } = options;
    this.waiting++;
    try {
      for (;;) {
        signal?.throwIfAborted();
        this.assertOpen();
        const answer = await this.takeRate(scope);
        if (answer.allowed) return;
        // Spread the waiters over the first second of the next minute instead of all at once.
        await this.pause(answer.retryAfterMs + Math.random() * 1000, signal, false);
      }
    } finally {
      this.waiting--;
    }
  }

  stats(): BudgetStats {
    return { leases: this.held.size, waiting: this.waiting, fallback: this.redis.inFallback, shared: this.redis.configured };
  }

  /** Releases every held lease and disconnects; waiting callers are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    for (const wake of this.wakers) wake();
    const ids = [...this.held.keys()];
    await Promise.all(ids.map((id) => this.release(id)));
    await this.redis.close();
  }

  // ---------------------------------------------------------------- connections

  private newId(): string {
    return `${this.idBase}:${++this.nextId}`;
  }

  private connectionBudgets(scope: BudgetScope): Budget[] {
    const { perSource, destination } = this.limits(scope);
    const dest = encode(scope.destination);
    return finite([
      { key: `${this.prefix}conn:${dest}:${encode(scope.source)}`, limit: perSource.connections },
      { key: `${this.prefix}conn:${dest}`, limit: destination.connections },
    ]);
  }

  private async tryTake(scope: BudgetScope, id: string): Promise<Lease | undefined> {
    const budgets = this.connectionBudgets(scope);
    let local = true;
    if (budgets.length > 0) {
      const shared = await this.redis.run(() => (this.redisLeases as RedisLeases).acquire(budgets, id, this.ttlMs));
      if (shared === false) return undefined;
      if (shared === true) {
        local = false;
        this.localLeases.add(budgets, id);
      } else if (!this.localLeases.tryAdd(budgets.map((b) => ({ key: b.key, limit: localShare(b.limit, this.processes) })), id)) {
        return undefined;
      }
    }
    const keys = budgets.map((b) => b.key);
    this.held.set(id, { keys });
    if (this.closed) {
      // close() has already released what it saw; this one came back from Redis too late.
      await this.release(id);
      this.assertOpen();
    }
    return { id, scope, local, release: () => this.release(id) };
  }

  private async release(id: string): Promise<void> {
    const held = this.held.get(id);
    if (held === undefined) return;
    // Forgotten before anything is sent, so a renewal that starts now can no longer resurrect it.
    this.held.delete(id);
    this.localLeases.remove(held.keys, id);
    for (const wake of this.wakers) wake();
    if (held.keys.length === 0 || this.redisLeases === undefined) return;
    const redisLeases = this.redisLeases;
    // If Redis is away the entry, if any, expires on its own within the TTL.
    await this.redis.run(() => redisLeases.release(held.keys, id));
  }

  /** Renews every held lease in one round trip; also re-registers those taken while Redis was down. */
  private async renewAll(): Promise<void> {
    if (this.redisLeases === undefined) return;
    const entries = [...this.held].flatMap(([id, { keys }]) => keys.map((key) => ({ key, id })));
    const missing = await this.redisLeases.renew(entries, this.ttlMs);
    if (missing > 0) this.logger.debug({ missing }, 'Re-registered connection leases missing from Redis');
  }

  private async renewTick(): Promise<void> {
    if (this.closed || this.held.size === 0) return;
    await this.redis.run(() => this.renewAll());
  }

  // ---------------------------------------------------------------- messages

  private async takeRate(scope: BudgetScope): Promise<RateAnswer> {
    const { perSource, destination } = this.limits(scope);
    const dest = encode(scope.destination);
    const budgets = finite([
      { key: `${this.prefix}rate:${dest}:${encode(scope.source)}`, limit: perSource.messagesPerMinute },
      { key: `${this.prefix}rate:${dest}`, limit: destination.messagesPerMinute },
    ]);
    if (budgets.length === 0) return { allowed: true, retryAfterMs: 0 };
    const redisRates = this.redisRates;
    const shared = redisRates === undefined ? undefined : await this.redis.run(() => redisRates.take(budgets));
    return shared ?? this.localRates.take(budgets.map((b) => ({ key: b.key, limit: localShare(b.limit, this.processes) })));
  }

  // ---------------------------------------------------------------- waiting

  private assertOpen(): void {
    if (this.closed) throw new Error('Budgets is closed');
  }

  /** Sleeps about `ms` (jittered so processes do not poll in step); a local release or close ends it early. */
  private pause(ms: number, signal: AbortSignal | undefined, jitter = true): Promise<void> {
    const wait = jitter ? ms * (0.5 + Math.random()) : ms;
    return sleep(wait, signal, (wake) => {
      this.wakers.add(wake);
      return () => this.wakers.delete(wake);
    });
  }
}

function finite(budgets: Budget[]): Budget[] {
  return budgets.filter((b) => Number.isFinite(b.limit));
}
