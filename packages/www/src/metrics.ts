import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Reply codes as labels: three digits only, so a label set can never grow without bound. */
function codeLabel(code: number): string {
  return Number.isInteger(code) && code >= 200 && code <= 599 ? String(code) : 'other';
}

/** Result states and kinds are enums (§6); anything else is folded into "other". */
function wordLabel(value: string): string {
  return /^[a-z][a-z-]{0,23}$/.test(value) ? value : 'other';
}

/**
 * Everything `/metrics` shows, on a registry of its own (never prom-client's global one), so each
 * process, and each test, has a fresh set. Ingress and delivery call the methods at the places
 * that log the same events; numbers read from elsewhere (open connections, budget slots) are
 * gauges with a callback, asked only when /metrics is scraped. No label is per domain or address.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #received: Counter<'path'>;
  readonly #published: Counter;
  readonly #refused: Counter<'code'>;
  readonly #confirm: Histogram;
  readonly #attempts: Counter<'state' | 'result'>;
  readonly #retries: Counter;
  readonly #delivery: Histogram;
  readonly #sources = new Map<string, () => number>();

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#received = new Counter({ name: 'mtaq_messages_received_total', help: 'Messages received (SMTP DATA, spool files, HTTP and CLI injections)', labelNames: ['path'], registers });
    this.#published = new Counter({ name: 'mtaq_messages_published_total', help: 'JSON documents (one per recipient) published by the ingress and confirmed by the broker', registers });
    this.#refused = new Counter({ name: 'mtaq_messages_refused_total', help: 'SMTP commands and messages refused by the ingress, by reply code', labelNames: ['code'], registers });
    this.#confirm = new Histogram({
      name: 'mtaq_publish_confirm_seconds',
      help: 'Seconds from publishing the documents of one message to the broker confirming them all',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#attempts = new Counter({ name: 'mtaq_delivery_attempts_total', help: 'Delivery attempts concluded, by result state and result', labelNames: ['state', 'result'], registers });
    this.#retries = new Counter({ name: 'mtaq_delivery_retries_total', help: 'Delivery attempts that will be retried (a copy went back through a delay queue)', registers });
    this.#delivery = new Histogram({
      name: 'mtaq_delivery_seconds',
      help: 'Seconds delivery spent on one outbox message, from consuming it to its conclusion being confirmed',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    const sources = this.#sources;
    new Gauge({
      name: 'mtaq_connections_open',
      help: 'SMTP connections open in this process: in = clients of the ingress, out = upstream connections of delivery',
      labelNames: ['direction'],
      registers,
      collect() {
        for (const direction of ['in', 'out'] as const) {
          const read = sources.get(`connections-${direction}`);
          if (read) this.set({ direction }, read());
        }
      },
    });
    new Gauge({
      name: 'mtaq_budget_slots_in_use',
      help: 'Connection budget slots (leases) held by this delivery process',
      registers,
      collect() {
        const read = sources.get('budget-slots');
        if (read) this.set(read());
      },
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  // ---------------------------------------------------------------- ingress

  /** One message came in (`path`: smtp, spool, http, cli). */
  received(path: 'smtp' | 'spool' | 'http' | 'cli'): void {
    this.#received.inc({ path });
  }

  /** `documents` copies of one message were confirmed by the broker after `seconds`. */
  published(documents: number, seconds: number): void {
    this.#published.inc(documents);
    this.#confirm.observe(seconds);
  }

  /** A command or message was refused with this reply code. */
  refused(code: number): void {
    this.#refused.inc({ code: codeLabel(code) });
  }

  // ---------------------------------------------------------------- delivery

  /** One delivery attempt concluded; `retry` when a copy goes back for another attempt. */
  attempt(state: string, result: string, retry: boolean): void {
    this.#attempts.inc({ state: wordLabel(state), result: wordLabel(result) });
    if (retry) this.#retries.inc();
  }

  /** Delivery finished with one outbox message after `seconds`. */
  handled(seconds: number): void {
    this.#delivery.observe(seconds);
  }

  // ---------------------------------------------------------------- numbers read when scraped

  /** Open connections of this process, read at each scrape. */
  connections(direction: 'in' | 'out', read: () => number): void {
    this.#sources.set(`connections-${direction}`, read);
  }

  /** Budget slots in use, read at each scrape. */
  budgetSlots(read: () => number): void {
    this.#sources.set('budget-slots', read);
  }

  /** Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
