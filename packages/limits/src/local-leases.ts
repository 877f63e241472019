import type { Budget } from './redis-leases.js';

/**
 * Every lease this process holds, by budget key, however it was taken. While Redis is reachable
 * this is bookkeeping only; while it is not, it is the count checked against the local share, and
 * counting the leases taken through Redis too keeps the process inside its share from the first
 * moment of an outage.
 */
export class LocalLeases {
  private readonly byKey = new Map<string, Set<string>>();

  count(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  /** Adds `id` to every budget if each has room (its own id does not count against it). */
  tryAdd(budgets: readonly Budget[], id: string): boolean {
    for (const { key, limit } of budgets) {
      const ids = this.byKey.get(key);
      if (ids !== undefined && !ids.has(id) && ids.size >= limit) return false;
    }
    this.add(budgets, id);
    return true;
  }

  add(budgets: readonly Budget[], id: string): void {
    for (const { key } of budgets) {
      let ids = this.byKey.get(key);
      if (ids === undefined) this.byKey.set(key, (ids = new Set()));
      ids.add(id);
    }
  }

  remove(keys: readonly string[], id: string): void {
    for (const key of keys) {
      const ids = this.byKey.get(key);
      if (ids === undefined) continue;
      ids.delete(id);
      if (ids.size === 0) this.byKey.delete(key);
    }
  }
}
