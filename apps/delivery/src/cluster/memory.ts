import type { Redis } from 'ioredis';
import { parseClusterMessage, encodeAnnouncement, type Announcement } from './messages.js';
import { DOWN_MEMORY_MS } from './membership.js';

/**
 * The cluster's memory of its delivery nodes in Redis (shared by every node, like the budgets): each
 * node writes its latest announcement there, so that a node starting while another is down still
 * knows whose IPs those are, and makes that mail wait instead of failing it with bind/error.
 * Entries older than {@link DOWN_MEMORY_MS} are dropped when read. Without Redis (or while it is
 * away) a starting node knows only the nodes that answer its hello.
 */
export class NodeMemory {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, exchange: string) {
    this.#redis = redis;
    this.#key = `mtaq:cluster:${exchange}:nodes`;
  }

  /** Records this node's announcement; failures are ignored (the next announcement tries again). */
  save(node: Announcement): void {
    this.#redis.hset(this.#key, String(node['server-id']), JSON.stringify({ at: Date.now(), hello: encodeAnnouncement(node).toString() })).catch(() => undefined);
  }

  /** Every remembered node with how long ago it was last recorded (ms); [] when Redis cannot answer. */
  async recall(): Promise<Array<{ node: Announcement; ageMs: number }>> {
    let all: Record<string, string>;
    try {
      all = await this.#redis.hgetall(this.#key);
    } catch {
      return [];
    }
    const out: Array<{ node: Announcement; ageMs: number }> = [];
    for (const [field, value] of Object.entries(all)) {
      let entry: { at?: unknown; hello?: unknown };
      try {
        entry = JSON.parse(value) as typeof entry;
      } catch {
        entry = {};
      }
      const message = typeof entry.hello === 'string' ? parseClusterMessage(entry.hello) : undefined;
      const ageMs = typeof entry.at === 'number' ? Date.now() - entry.at : Infinity;
      if (message?.kind !== 'announcement' || ageMs > DOWN_MEMORY_MS) {
        this.#redis.hdel(this.#key, field).catch(() => undefined);
        continue;
      }
      out.push({ node: message.node, ageMs: Math.max(0, ageMs) });
    }
    return out;
  }
}
