import { replies, type Reply } from '../smtp/replies.js';

/**
 * Per-client-address caps on concurrent connections and on new connections per minute. Past them
 * a connection gets `421 4.7.0` and is closed: a single noisy client cannot take the slots of all
 * others (the global `smtp-connections-in` cap is smtp-server's maxClients).
 */
export class ConnectionLimits {
  readonly #open = new Map<string, number>();
  readonly #recent = new Map<string, number[]>();

  constructor(
    private readonly perIp: number,
    private readonly perMinute: number,
  ) {}

  /** Counts the connection in, or says why not. Every admitted connection must be `leave`-d. */
  enter(ip: string, now = Date.now()): Reply | undefined {
    if (this.perMinute > 0) {
      const times = (this.#recent.get(ip) ?? []).filter((t) => t > now - 60_000);
      if (times.length >= this.perMinute) {
        this.#recent.set(ip, times);
        return replies.tooManyConnectionsPerMinute(ip);
      }
      times.push(now);
      this.#recent.set(ip, times);
      if (this.#recent.size > 100_000) this.#prune(now);
    }
    const open = this.#open.get(ip) ?? 0;
    if (this.perIp > 0 && open >= this.perIp) {
      return replies.tooManyConcurrentConnections(ip);
    }
    this.#open.set(ip, open + 1);
    return undefined;
  }

  leave(ip: string): void {
    const open = (this.#open.get(ip) ?? 1) - 1;
    if (open <= 0) this.#open.delete(ip);
    else this.#open.set(ip, open);
  }

  #prune(now: number): void {
    for (const [ip, times] of this.#recent) if (!times.some((t) => t > now - 60_000)) this.#recent.delete(ip);
  }
}
