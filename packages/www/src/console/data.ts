import type { Logger } from '@mtaq/log';
import type { Metrics } from '../metrics.js';
import { BudgetWatch, type BudgetReport } from './budgets.js';
import { QueueWatch, type QueueNames, type QueueReport } from './queues.js';
import { CounterRing, type MinuteResults, type RateSeries } from './rates.js';

/** Where the console's live numbers come from, handed over by the process that starts the server. */
export interface ConsoleSources {
  /** Broker(s) to ask for queue depths (`rabbitmq-address`). */
  readonly amqpUrls: readonly string[];
  readonly queues: QueueNames;
  /** `redis-address`: where delivery keeps its connection leases; '' = none. */
  readonly redisUrl: string;
}

/** What GET /console/data.json answers. */
export interface LiveData {
  readonly time: string;
  readonly queues: QueueReport;
  readonly rates: RateSeries;
  readonly results: MinuteResults;
  readonly budgets: BudgetReport;
}

/** Several browsers polling at once share one look at the broker and Redis per this many ms. */
const FRESH_MS = 900;

/**
 * The console's live numbers. The counters are sampled every second from the start (they are
 * in memory); the broker and Redis are asked only while someone has the page open, at most once
 * per {@link FRESH_MS}, so an unwatched console costs them nothing.
 */
export class ConsoleData {
  readonly #rates: CounterRing;
  readonly #queues: QueueWatch;
  readonly #budgets: BudgetWatch;
  #last: { at: number; data: Promise<LiveData> } | undefined;

  constructor(sources: ConsoleSources, metrics: Metrics, logger: Logger) {
    this.#rates = new CounterRing(metrics.registry);
    this.#queues = new QueueWatch(sources.amqpUrls, sources.queues, logger);
    this.#budgets = new BudgetWatch(sources.redisUrl);
    this.#rates.start();
  }

  live(now = Date.now()): Promise<LiveData> {
    if (this.#last && now - this.#last.at < FRESH_MS) return this.#last.data;
    const data = this.#read(now);
    this.#last = { at: now, data };
    return data;
  }

  async #read(now: number): Promise<LiveData> {
    const [queues, budgets] = await Promise.all([this.#queues.report(now), this.#budgets.report()]);
    return { time: new Date(now).toISOString(), queues, rates: this.#rates.rates(), results: this.#rates.results(), budgets };
  }

  async close(): Promise<void> {
    this.#rates.stop();
    await Promise.all([this.#queues.close(), this.#budgets.close()]);
  }
}
