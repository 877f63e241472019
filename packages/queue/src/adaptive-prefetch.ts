import { silentLogger, type Logger } from '@mtaq/log';

/** What the governor needs of a consumer (Consumer has it). */
export interface PrefetchTarget {
  readonly inFlight: number;
  readonly prefetch: number;
  setPrefetch(count: number): Promise<void>;
}

export interface AdaptivePrefetchOptions {
  /** `rabbitmq-qos`: the prefetch to start with and the most it grows back to. */
  readonly max: number;
  /** `rabbitmq-minqos`: the least it is reduced to. */
  readonly min: number;
  /**
   * Messages handed to the handler that are waiting here rather than being worked on (for delivery:
   * queued for an upstream connection). Summed over the process.
   */
  readonly waiting: () => number;
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

/**
 * `rabbitmq-minqos`: the prefetch is reduced under load. Load means prefetched messages that wait
 * in this process for their turn: they gain nothing from waiting here instead of in RabbitMQ, and
 * cost memory and garbage collection (every one that waits longer than a young-generation cycle is
 * copied into the old generation). Each tick: while more than half the window waits, the window
 * shrinks to twice what is being worked on, by at least half, not below `min`; while (almost) the
 * whole window is in use and at most a quarter of it waits, it doubles (not above `max`): the work
 * outgrew it.
 *
 * It starts at `min` and grows from there (slow start) rather than opening the whole window at once:
 * a consumer that starts on a long queue would otherwise take `max` messages before the first tick
 * could see them wait (1,000 messages of 1 MB are a gigabyte), and the window it settles at for a
 * few busy destinations is near `min` anyway.
 */
export class AdaptivePrefetch {
  readonly #targets: readonly PrefetchTarget[];
  readonly #options: AdaptivePrefetchOptions;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;

  constructor(targets: readonly PrefetchTarget[], options: AdaptivePrefetchOptions) {
    this.#targets = targets;
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'prefetch' });
  }

  /**
   * Sets every target to the floor (slow start; before the consumers start, nothing else changes)
   * and adjusts them every interval from then on. No-op when there is no range to move in
   * (0 = unlimited, or min ≥ max).
   */
  async start(): Promise<void> {
    const { max } = this.#options;
    const min = Math.max(1, this.#options.min);
    if (max === 0 || min >= max || this.#timer) return;
    for (const target of this.#targets) if (target.prefetch > min) await target.setPrefetch(min);
    this.#timer = setInterval(() => void this.tick(), this.#options.intervalMs ?? 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One adjustment of every target (public for tests). */
  async tick(): Promise<void> {
    const max = this.#options.max;
    const min = Math.max(1, this.#options.min); // 0 would mean unlimited to the broker
    const waiting = this.#options.waiting();
    // messages being worked on: in flight and not waiting (waiting is counted over the whole process)
    const active = Math.max(0, this.#targets.reduce((sum, t) => sum + t.inFlight, 0) - waiting);
    for (const target of this.#targets) {
      const current = target.prefetch;
      let next = current;
      if (waiting > current / 2) next = Math.max(min, Math.min(Math.floor(current / 2), 2 * active));
      else if (target.inFlight >= current * 0.9 && waiting <= current / 4) next = Math.min(max, current * 2);
      if (next === current) continue;
      this.#log.debug({ from: current, to: next, waiting, inFlight: target.inFlight }, next < current ? 'prefetch reduced: messages wait here' : 'prefetch raised: the window was full');
      await target.setPrefetch(next);
    }
  }
}
