/**
 * Flood patterns (reference §7.9): a remote reply that matches one pauses the source IP → domain
 * pair for `pauseSeconds`, then holds it to a reduced capacity (`connections` at once,
 * `messagesPerMinute`) for `reducedSeconds`. The state is this process's own (it is not shared
 * through Redis): each delivery process backs off on the replies it gets itself.
 */

import { replyMatches, selects, type DeliveryFacts, type MatchType, type Selector } from './match.js';

export interface FloodPattern extends Selector {
  readonly id?: number | string;
  readonly pattern: string;
  readonly match: MatchType;
  readonly pauseSeconds: number;
  readonly reducedSeconds: number;
  /** Reduced capacity: attempts at once for the pair (null = unchanged, 0 = unlimited). */
  readonly connections?: number | null;
  /** Reduced capacity: attempts per minute for the pair (null = unchanged, 0 = unlimited). */
  readonly messagesPerMinute?: number | null;
}

interface PairState {
  pausedUntil: number;
  reducedUntil: number;
  connections: number | null;
  perMinute: number | null;
  inFlight: number;
  /** Start times (ms) of the attempts in the last minute, while reduced. */
  recent: number[];
}

const MAX_PAIRS = 100_000;

export class FloodGuard {
  readonly #pairs = new Map<string, PairState>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /**
   * Records a remote reply: the first flood pattern (in table order) whose selector covers the
   * delivery and whose pattern matches `reply` starts the pause of (source, domain). Returns it.
   */
  observe(patterns: readonly FloodPattern[], facts: DeliveryFacts & { readonly source: string }, reply: string): FloodPattern | undefined {
    const hit = patterns.find((p) => selects(p, facts) && replyMatches(p.pattern, p.match, reply));
    if (!hit) return undefined;
    const now = this.#now();
    const key = pairKey(facts.source, facts.domain);
    const old = this.#pairs.get(key);
    if (!old && this.#pairs.size >= MAX_PAIRS) this.#sweep(now);
    const pausedUntil = now + Math.max(0, hit.pauseSeconds) * 1000;
    this.#pairs.set(key, {
      pausedUntil,
      reducedUntil: pausedUntil + Math.max(0, hit.reducedSeconds) * 1000,
      connections: hit.connections ?? null,
      perMinute: hit.messagesPerMinute ?? null,
      inFlight: old?.inFlight ?? 0,
      recent: old?.recent ?? [],
    });
    return hit;
  }

  /** Seconds (rounded up) the pair is still paused; 0 when it is not. */
  pausedFor(source: string, domain: string): number {
    const state = this.#pairs.get(pairKey(source, domain));
    const left = state ? state.pausedUntil - this.#now() : 0;
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  /**
   * Takes a slot for one attempt of the pair under its reduced capacity; false when the capacity is
   * used up (the caller parks the message). Every true must be followed by {@link leave}.
   */
  enter(source: string, domain: string): boolean {
    const state = this.#pairs.get(pairKey(source, domain));
    if (!state) return true;
    const now = this.#now();
    if (now >= state.reducedUntil) {
      state.inFlight++;
      return true;
    }
    state.recent = state.recent.filter((t) => now - t < 60_000);
    if (state.connections !== null && state.connections > 0 && state.inFlight >= state.connections) return false;
    if (state.perMinute !== null && state.perMinute > 0 && state.recent.length >= state.perMinute) return false;
    state.inFlight++;
    state.recent.push(now);
    return true;
  }

  leave(source: string, domain: string): void {
    const key = pairKey(source, domain);
    const state = this.#pairs.get(key);
    if (!state) return;
    state.inFlight = Math.max(0, state.inFlight - 1);
    if (state.inFlight === 0 && this.#now() >= state.reducedUntil) this.#pairs.delete(key);
  }

  #sweep(now: number): void {
    for (const [key, state] of this.#pairs) if (state.inFlight === 0 && now >= state.reducedUntil) this.#pairs.delete(key);
  }
}

function pairKey(source: string, domain: string): string {
  return `${source}\0${domain.toLowerCase()}`;
}
