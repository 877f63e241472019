import type { Config } from '@mtaq/config';
import { silentLogger, type Logger } from '@mtaq/log';
import { storeFromAddress } from './address.js';
import type { RuleStore } from './store.js';
import { EMPTY_RULESET, type RuleSet } from './types.js';

export interface RuleCacheOptions {
  /** Seconds between reloads (`database-ttl`); 0 = only on demand. */
  readonly ttl: number;
  /** Check the tables at start-up (`database-validate`): migrate, then verify every table and column. */
  readonly validate?: boolean;
  /** Apply pending migrations at start-up (default true). */
  readonly migrate?: boolean;
  readonly logger?: Logger;
  /** Backoff of the first load: first delay and cap, ms (default 250 → 30 000). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

export type RuleCacheConfig = Pick<Config, 'database-address' | 'database-ttl' | 'database-validate' | 'server-id'>;

/**
 * The rules in force, read from a RuleStore: loaded once at start (retrying with backoff until it
 * works — `ready()` resolves only then), reloaded every `ttl` seconds and on `reload()` (a cluster
 * `{"reload": true}`). A failed reload keeps the last good RuleSet and logs a warning, so a
 * database outage never lifts a suppression or a pause. Without a store (empty
 * `database-address`) it is ready at once with no rules.
 */
export class RuleCache {
  private rules: RuleSet = EMPTY_RULESET;
  private good = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<boolean> | undefined;
  private next: Promise<boolean> | undefined;
  private wake: (() => void) | undefined;
  private started = false;
  private readonly listeners = new Set<(rules: RuleSet) => void>();
  private readonly readyPromise: Promise<void>;
  private resolveReady!: () => void;
  private readonly log: Logger;
  /** Error of the last failed load, if the last load failed. */
  lastError: Error | undefined;

  constructor(
    readonly store: RuleStore | undefined,
    private readonly options: RuleCacheOptions,
  ) {
    this.log = options.logger ?? silentLogger;
    this.readyPromise = new Promise((resolve) => (this.resolveReady = resolve));
    if (store === undefined) {
      this.good = true;
      this.resolveReady();
    }
  }

  /**
   * From the configuration: `database-address` (empty = no rules), `database-ttl`,
   * `database-validate`; pauses and forced errors created through this store are owned by
   * `server-id`. Throws UnsupportedDatabaseError for mysql:// (name the line with `origin`, e.g.
   * `Built.sources.get('database-address')`). Call `start()` to begin loading.
   */
  static fromConfig(config: RuleCacheConfig, logger?: Logger, origin?: string): RuleCache {
    const store = storeFromAddress(config['database-address'], { owner: String(config['server-id']), ...(origin === undefined ? {} : { origin }) });
    return new RuleCache(store, {
      ttl: config['database-ttl'],
      validate: config['database-validate'],
      ...(logger === undefined ? {} : { logger: logger.child({ component: 'rules' }) }),
    });
  }

  /** Begins the first load (with retries) and the periodic reload. Idempotent. */
  start(): this {
    if (this.started || this.store === undefined) return this;
    this.started = true;
    void this.firstLoad();
    return this;
  }

  /** Resolves once a RuleSet has been loaded (at once without a database). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  isReady(): boolean {
    return this.good;
  }

  /** The rules in force: the last good load (empty before the first). */
  current(): RuleSet {
    return this.rules;
  }

  /** Called after every successful load with the new RuleSet (e.g. to release messages of a deleted pause). */
  onChange(listener: (rules: RuleSet) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the database now. True when the rules were replaced; false when the read failed (the
   * last good rules stay, a warning is logged). Calls while one runs share it, plus one more read
   * after it so an edit made meanwhile is seen.
   */
  reload(): Promise<boolean> {
    if (this.store === undefined || this.closed) return Promise.resolve(this.store === undefined);
    if (this.inflight !== undefined) {
      this.next ??= this.inflight.then(() => {
        this.next = undefined;
        return this.reload();
      });
      return this.next;
    }
    this.inflight = this.loadOnce().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wake?.();
    await this.inflight?.catch(() => undefined);
    await this.store?.close();
  }

  private async loadOnce(): Promise<boolean> {
    const store = this.store!;
    try {
      if (!this.good) {
        if (this.options.migrate !== false) {
          const applied = await store.migrate();
          if (applied.length > 0) this.log.info({ applied, dialect: store.dialect }, 'rule database migrated');
        }
        if (this.options.validate === true) await store.validate();
      }
      const rules = await store.load();
      if (this.closed) return false;
      this.rules = rules;
      this.lastError = undefined;
      if (!this.good) {
        this.good = true;
        this.resolveReady();
        this.log.info(count(rules), 'rules loaded');
      } else this.log.debug(count(rules), 'rules reloaded');
      for (const l of this.listeners) {
        try {
          l(rules);
        } catch (err) {
          this.log.error({ err }, 'rule change listener failed');
        }
      }
      return true;
    } catch (err) {
      this.lastError = err as Error;
      if (this.good) this.log.warn({ err: (err as Error).message, dialect: store.dialect }, 'rule database reload failed; the last good rules stay in force');
      return false;
    } finally {
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.closed || !this.good || this.options.ttl <= 0) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), this.options.ttl * 1000);
    this.timer.unref();
  }

  private async firstLoad(): Promise<void> {
    let delay = this.options.retryMinMs ?? 250;
    const max = this.options.retryMaxMs ?? 30_000;
    for (let attempt = 1; !this.closed; attempt++) {
      if (await this.reload()) return;
      if (this.good) return;
      this.log.warn(
        { err: this.lastError?.message, attempt, retryInMs: delay, dialect: this.store!.dialect },
        'rule database cannot be read; delivery waits until it can',
      );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
      delay = Math.min(max, delay * 2);
    }
  }
}

function count(rules: RuleSet): Record<string, number> {
  return {
    suppressions: rules.suppressions.length,
    pauses: rules.pauses.length,
    errors: rules.errors.length,
    patterns: rules.patterns.length,
    floods: rules.floods.length,
    pools: rules.pools.length,
    poolips: rules.poolips.length,
    externalmtas: rules.externalmtas.length,
    dkimkeys: rules.dkimkeys.length,
  };
}
