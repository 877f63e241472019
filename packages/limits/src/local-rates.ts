import type { Budget } from './redis-leases.js';
import { WINDOW_MS, type RateAnswer } from './redis-rates.js';

/** Messages-per-minute counters of this process alone, used while Redis is down. */
export class LocalRates {
  private readonly windows = new Map<string, { window: number; count: number }>();

  take(budgets: readonly Budget[], now = Date.now()): RateAnswer {
    const window = Math.floor(now / WINDOW_MS);
    const left = WINDOW_MS - (now % WINDOW_MS);
    const counts = budgets.map(({ key }) => {
      const state = this.windows.get(key);
      return state?.window === window ? state.count : 0;
    });
    if (budgets.some((b, i) => (counts[i] ?? 0) >= b.limit)) return { allowed: false, retryAfterMs: left };
    budgets.forEach((b, i) => this.windows.set(b.key, { window, count: (counts[i] ?? 0) + 1 }));
    if (this.windows.size > 10_000) this.sweep(window);
    return { allowed: true, retryAfterMs: 0 };
  }

  /** Destinations come and go; forget the ones not used this minute. */
  private sweep(window: number): void {
    for (const [key, state] of this.windows) if (state.window !== window) this.windows.delete(key);
  }
}
