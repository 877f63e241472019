import { Redis } from 'ioredis';

/** Connection slots held towards one destination, cluster-wide, and per source IP. */
export interface DestinationBudget {
  readonly destination: string;
  /** Leases in the destination-wide budget. */
  readonly inUse: number;
  readonly sources: Array<{ readonly source: string; readonly inUse: number }>;
}

export interface BudgetReport {
  /** 'off': no redis-address (limits are per process); 'down': Redis did not answer. */
  readonly redis: 'ok' | 'off' | 'down';
  readonly destinations: DestinationBudget[];
}

/** At most this many budget keys are read per look: a busy cluster shows its first ones. */
const MAX_KEYS = 500;

/**
 * Connection budgets in use, read from the Redis where delivery keeps its leases (packages/limits
 * budgets.ts): one ZSET per budget, `mtaq:conn:<destination>` and `mtaq:conn:<destination>:<source>`
 * (both parts URI-encoded), member = lease, score = expiry in ms of the Redis clock. The live
 * leases are those scoring after Redis's `TIME`. Since every delivery process shares that Redis,
 * the numbers are cluster-wide. Only budgets with a finite limit (`delivery-limits`) have keys.
 */
export class BudgetWatch {
  readonly #redis: Redis | undefined;
  readonly #prefix: string;

  constructor(redisUrl: string, keyPrefix = 'mtaq:') {
    this.#prefix = keyPrefix;
    this.#redis = redisUrl
      ? new Redis(redisUrl, { connectionName: 'mtaq-console', lazyConnect: true, enableOfflineQueue: true, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000 })
      : undefined;
    this.#redis?.on('error', () => undefined); // shown on the page as "Redis down"
  }

  async report(): Promise<BudgetReport> {
    const redis = this.#redis;
    if (!redis) return { redis: 'off', destinations: [] };
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${this.#prefix}conn:*`, 'COUNT', 200);
        keys.push(...found);
        cursor = next;
      } while (cursor !== '0' && keys.length < MAX_KEYS);
      const [seconds, micros] = await redis.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const pipeline = redis.pipeline();
      for (const key of keys.slice(0, MAX_KEYS)) pipeline.zcount(key, `(${now}`, '+inf');
      const counts = (await pipeline.exec()) ?? [];
      const byDestination = new Map<string, { inUse: number; sources: Array<{ source: string; inUse: number }> }>();
      keys.slice(0, MAX_KEYS).forEach((key, i) => {
        const [err, count] = counts[i] ?? [null, 0];
        if (err || typeof count !== 'number' || count === 0) return;
        const [destination = '', source] = key.slice(`${this.#prefix}conn:`.length).split(':');
        const entry = byDestination.get(destination) ?? { inUse: 0, sources: [] };
        if (source === undefined) entry.inUse = count;
        else entry.sources.push({ source: decode(source), inUse: count });
        byDestination.set(destination, entry);
      });
      const destinations = [...byDestination].map(([destination, entry]) => ({
        destination: decode(destination),
        // a per-source budget without a destination-wide limit: the sum of its sources
        inUse: Math.max(entry.inUse, entry.sources.reduce((a, s) => a + s.inUse, 0)),
        sources: entry.sources.sort((a, b) => b.inUse - a.inUse),
      }));
      destinations.sort((a, b) => b.inUse - a.inUse || a.destination.localeCompare(b.destination));
      return { redis: 'ok', destinations };
    } catch {
      return { redis: 'down', destinations: [] };
    }
  }

  async close(): Promise<void> {
    this.#redis?.disconnect();
  }
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
