import type { Registry } from 'prom-client';

/** One reading of the process's counters (cumulative since it started). */
export interface CounterSample {
  /** ms since the epoch */
  readonly at: number;
  /** messages received (SMTP DATA, spool, HTTP and CLI injections) */
  readonly received: number;
  /** JSON documents published to the inbox (one per recipient) */
  readonly published: number;
  /** delivery attempts concluded, by "state result" of their results entry */
  readonly attempts: Readonly<Record<string, number>>;
}

/** Per-second rates of the last {@link RATE_SECONDS} seconds, oldest first. */
export interface RateSeries {
  readonly seconds: number[];
  readonly in: number[];
  readonly published: number[];
  readonly out: number[];
}

/** Attempts by result state per whole minute, oldest first. */
export interface MinuteResults {
  readonly minutes: string[];
  readonly states: Record<string, number[]>;
}

export const RATE_SECONDS = 120;
export const RESULT_MINUTES = 10;

/**
 * Samples the prom-client counters the process already keeps (packages/www metrics.ts) once a
 * second into a ring buffer of {@link RESULT_MINUTES} minutes: rates and results per minute are
 * differences between samples, so nothing in ingress or delivery counts twice. These are this
 * process's numbers; in a cluster each node's console shows its own.
 */
export class CounterRing {
  readonly #registry: Registry;
  readonly #size: number;
  readonly #ring: CounterSample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(registry: Registry, size = RESULT_MINUTES * 60 + 2) {
    this.#registry = registry;
    this.#size = size;
  }

  start(intervalMs = 1000): void {
    const tick = (): void => void this.sample().catch(() => undefined);
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async sample(at = Date.now()): Promise<void> {
    const [received, published, attempts] = await Promise.all([
      this.#values('mtaq_messages_received_total'),
      this.#values('mtaq_messages_published_total'),
      this.#values('mtaq_delivery_attempts_total'),
    ]);
    const byState: Record<string, number> = {};
    // "state result" (§6: message accepted, rcpt error, connect error, …): the state says where, the result how
    for (const { value, labels } of attempts) {
      const state = `${String(labels['state'] ?? 'other')} ${String(labels['result'] ?? '')}`.trim();
      byState[state] = (byState[state] ?? 0) + value;
    }
    this.#ring.push({ at, received: sum(received), published: sum(published), attempts: byState });
    if (this.#ring.length > this.#size) this.#ring.splice(0, this.#ring.length - this.#size);
  }

  /** Per-second rates between consecutive samples, for the last `count` seconds. */
  rates(count = RATE_SECONDS): RateSeries {
    const series: RateSeries = { seconds: [], in: [], published: [], out: [] };
    const ring = this.#ring;
    for (let i = Math.max(1, ring.length - count); i < ring.length; i++) {
      const a = ring[i - 1]!;
      const b = ring[i]!;
      const span = Math.max(0.001, (b.at - a.at) / 1000);
      series.seconds.push(Math.round(b.at / 1000));
      series.in.push(round((b.received - a.received) / span));
      series.published.push(round((b.published - a.published) / span));
      series.out.push(round((total(b.attempts) - total(a.attempts)) / span));
    }
    return series;
  }

  /** Attempts concluded per state in each of the last `count` minutes (the current one so far last). */
  results(count = RESULT_MINUTES): MinuteResults {
    const out: MinuteResults = { minutes: [], states: {} };
    const ring = this.#ring;
    const last = ring.at(-1);
    if (!last) return out;
    const thisMinute = Math.floor(last.at / 60_000);
    for (let m = thisMinute - count + 1; m <= thisMinute; m++) {
      // the counts at the end of the previous minute and at the end of this one (or now)
      const start = latestBefore(ring, m * 60_000);
      const end = latestBefore(ring, (m + 1) * 60_000);
      out.minutes.push(new Date(m * 60_000).toISOString().slice(11, 16));
      const index = out.minutes.length - 1;
      for (const state of Object.keys(last.attempts)) {
        const series = (out.states[state] ??= new Array<number>(count).fill(0));
        series[index] = start && end ? Math.max(0, (end.attempts[state] ?? 0) - (start.attempts[state] ?? 0)) : 0;
      }
    }
    return out;
  }

  async #values(name: string): Promise<Array<{ value: number; labels: Record<string, string | number> }>> {
    const metric = this.#registry.getSingleMetric(name);
    if (!metric) return [];
    const got = await metric.get();
    return got.values.map((v) => ({ value: v.value, labels: v.labels as Record<string, string | number> }));
  }
}

function sum(values: ReadonlyArray<{ value: number }>): number {
  return values.reduce((acc, v) => acc + v.value, 0);
}

function total(byState: Readonly<Record<string, number>>): number {
  return Object.values(byState).reduce((a, b) => a + b, 0);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The last sample taken before `ms` (the first sample when all are later). */
function latestBefore(ring: readonly CounterSample[], ms: number): CounterSample | undefined {
  let found: CounterSample | undefined;
  for (const sample of ring) {
    if (sample.at < ms) found = sample;
    else break;
  }
  return found ?? (ring[0] && ring[0].at < ms + 60_000 ? ring[0] : undefined);
}
