import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ResultEntry } from '@mtaq/envelope';
import { silentLogger, type Logger } from '@mtaq/log';

/**
 * Remembers that the upstream accepted a message (its id, recipient, attempt and content). After a
 * crash between the upstream's 250 and our ack, the broker redelivers the message; the marker turns
 * that redelivery into a republish of the stored result instead of a second delivery. Only
 * redeliveries are looked up, and the content is part of the key, so a producer that reuses a
 * message id can never have a new message mistaken for a delivered one. Best effort: when Redis is
 * down a duplicate is possible, a loss never.
 */
export interface MarkedMessage {
  readonly id: string | undefined;
  readonly recipient: string;
  readonly mime: string;
}

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

  async get(message: MarkedMessage, attempt: number): Promise<ResultEntry | undefined> {
    if (!this.#redis || !message.id) return undefined;
    try {
      const stored = await this.#redis.get(this.#key(message, attempt));
      return stored ? (JSON.parse(stored) as ResultEntry) : undefined;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'sent marker lookup failed');
      return undefined;
    }
  }

  async set(message: MarkedMessage, attempt: number, entry: ResultEntry): Promise<void> {
    if (!this.#redis || !message.id) return;
    try {
      await this.#redis.set(this.#key(message, attempt), JSON.stringify(entry), 'EX', this.#ttl);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'sent marker not stored');
    }
  }

  #key(message: MarkedMessage, attempt: number): string {
    const content = createHash('sha256').update(message.mime).digest('base64url').slice(0, 22);
    return `${this.#prefix}${message.id}:${message.recipient.toLowerCase()}:${attempt}:${content}`;
  }
}
