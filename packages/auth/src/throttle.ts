import { isIP } from 'node:net';
import { normalizeIp } from '@mtaq/net';

export interface LoginThrottleOptions {
  /** Failed logins within `window` after which the address is refused; 0 = never. */
  maxFailures: number;
  /** Seconds over which failures are counted. */
  window: number;
  /** Most addresses tracked at once; the least recently failing ones are forgotten first. */
  maxEntries?: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
}

/**
 * Counts failed logins per client address in a sliding window, in memory (each process its own).
 * IPv6 clients are counted per /64, since one host commonly owns a whole /64 and could otherwise
 * rotate through it. Memory stays bounded: each address keeps at most `maxFailures` timestamps,
 * expired addresses are swept as failures arrive, and beyond `maxEntries` the least recently
 * failing addresses are dropped.
 */
export class LoginThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Insertion order = order of last failure, which makes the first key the oldest. */
  readonly #failures = new Map<string, number[]>();
  #nextSweep = 0;

  constructor(options: LoginThrottleOptions) {
    this.#max = Math.max(0, Math.floor(options.maxFailures));
    this.#windowMs = Math.max(0, options.window * 1000);
    this.#maxEntries = Math.max(1, options.maxEntries ?? 100_000);
    this.#now = options.now ?? Date.now;
  }

  /** True when `ip` has used up its failures and should be refused without asking a backend. */
  blocked(ip: string): boolean {
    if (this.#max === 0) return false;
    const times = this.#failures.get(keyOf(ip));
    if (times === undefined) return false;
    return recent(times, this.#now() - this.#windowMs).length >= this.#max;
  }

  failure(ip: string): void {
    if (this.#max === 0) return;
    const now = this.#now();
    const key = keyOf(ip);
    const times = recent(this.#failures.get(key) ?? [], now - this.#windowMs);
    times.push(now);
    if (times.length > this.#max) times.splice(0, times.length - this.#max);
    this.#failures.delete(key);
    this.#failures.set(key, times);
    this.#prune(now);
  }

  /** A good login clears the address's record. */
  success(ip: string): void {
    this.#failures.delete(keyOf(ip));
  }

  /** Addresses currently tracked (for metrics and tests). */
  get size(): number {
    return this.#failures.size;
  }

  #prune(now: number): void {
    if (now >= this.#nextSweep || this.#failures.size > this.#maxEntries) {
      const cutoff = now - this.#windowMs;
      // Oldest first: stop at the first address that still has a failure inside the window.
      for (const [key, times] of this.#failures) {
        if ((times.at(-1) ?? 0) > cutoff) break;
        this.#failures.delete(key);
      }
      this.#nextSweep = now + Math.max(1000, this.#windowMs / 4);
    }
    while (this.#failures.size > this.#maxEntries) {
      const oldest = this.#failures.keys().next().value;
      if (oldest === undefined) break;
      this.#failures.delete(oldest);
    }
  }
}

function recent(times: number[], cutoff: number): number[] {
  const first = times.findIndex((time) => time > cutoff);
  return first < 0 ? [] : first === 0 ? times : times.slice(first);
}

/**
 * The unit a client address is counted in: the address itself for IPv4 (IPv4-mapped IPv6
 * included), the /64 (`2001:db8:1:2::/64`) for IPv6.
 */
export function clientKey(ip: string): string {
  return keyOf(ip);
}

function keyOf(ip: string): string {
  const address = normalizeIp(ip);
  if (isIP(address) !== 6) return address;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(address: string): string[] {
  const zoneless = address.split('%')[0] ?? address;
  const [head = '', tail] = zoneless.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (`64:ff9b::1.2.3.4`) fills two groups.
  const width = (groups: string[]): number => groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const missing = Math.max(0, 8 - width(left) - width(right));
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((group) => group.toLowerCase().replace(/^0+(?=.)/, ''));
}
