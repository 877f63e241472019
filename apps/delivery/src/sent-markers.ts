import type { Redis } from 'ioredis';
import type { ResultEntry } from '@mtaq/envelope';
import { silentLogger, type Logger } from '@mtaq/log';

/**
 * Remembers, per message id, recipient and attempt, that the upstream accepted the message. After a crash
 * between the upstream's 250 and our ack, the broker redelivers the message; the marker turns that
 * redelivery into a republish of the stored result instead of a second delivery. Best effort: when
 * Redis is down a duplicate is possible, a loss never.
 */
export class SentMarkers {
  readonly #redis: Redis | undefined;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #log: Logger;

  constructor(redis: Redis | undefined, options: { prefix?: string; ttlSeconds?: number; logger?: Logger } = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? 'mtaq:sent:';
    this.#ttl = options.ttlSeconds ?? 86400;
    this.#log = options.logger ?? silentLogger;
  }

  async get(messageId: string | undefined, recipient: string, attempt: number): Promise<ResultEntry | undefined> {
    if (!this.#redis || !messageId) return undefined;
    try {
      const stored = await this.#redis.get(this.#key(messageId, recipient, attempt));
      return stored ? (JSON.parse(stored) as ResultEntry) : undefined;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'sent marker lookup failed');
      return undefined;
    }
  }

  async set(messageId: string | undefined, recipient: string, attempt: number, entry: ResultEntry): Promise<void> {
    if (!this.#redis || !messageId) return;
    try {
      await this.#redis.set(this.#key(messageId, recipient, attempt), JSON.stringify(entry), 'EX', this.#ttl);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'sent marker not stored');
    }
  }

  /** Producers reuse a message-id for the recipients of one mailing, so the recipient is part of it. */
  #key(messageId: string, recipient: string, attempt: number): string {
    return `${this.#prefix}${messageId}:${recipient.toLowerCase()}:${attempt}`;
  }
}
