/**
 * Claim values kept in this process: the mirror of what is in Redis, and all there is without it.
 * Bounded: past `limit` entries the oldest are forgotten first (Map keeps insertion order).
 */
export class LocalClaims {
  readonly #entries = new Map<string, { value: string; expires: number }>();
  readonly #limit: number;

  constructor(limit = 200_000) {
    this.#limit = limit;
  }

  get(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: string, ttlMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expires: Date.now() + ttlMs });
    if (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}
