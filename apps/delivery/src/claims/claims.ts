import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { ResultEntry } from '@mtaq/envelope';
import { silentLogger, type Logger } from '@mtaq/log';
import { Breaker } from './breaker.js';
import type { Identity } from './identity.js';
import { LocalClaims } from './local-claims.js';
import { BATCH, CONCLUDE, RELEASE, RENEW } from './scripts.js';

export interface ClaimsOptions {
  /** Redis shared by every delivery process; undefined = claims of this process only. */
  readonly redis?: Redis | undefined;
  readonly prefix?: string;
  /** How long a claim outlives a holder that stopped renewing it (its process died). */
  readonly liveTtlMs?: number;
  /** How long an outcome is remembered for a redelivery that comes late. */
  readonly outcomeTtlMs?: number;
  /** How often a redelivery looks again at a claim someone else holds. */
  readonly pollMs?: number;
  /** How long a redelivery waits for someone else's claim before it is parked instead. */
  readonly maxWaitMs?: number;
  /** How long Redis is left alone after it failed to answer in time. */
  readonly breakerMs?: number;
  readonly logger?: Logger;
}

/** A take (`T` respecting an existing claim, `t` regardless) or an outcome record (`O`), waiting for the batch. */
interface PendingOp {
  readonly key: string;
  readonly op: 'T' | 't' | 'O';
  readonly value: string;
  readonly done: (answer: number | string | undefined) => void;
}

/** A claim this handler holds: it alone may send this attempt. */
export interface Claim {
  readonly key: string;
  /** The exact value in Redis while we hold it (`L|<owner>`). */
  readonly live: string;
}

export type ClaimAnswer =
  /** Ours: send. `takeover` = an earlier holder may have sent already and left no outcome. */
  | { readonly kind: 'owned'; readonly claim: Claim; readonly takeover: boolean }
  /** An earlier holder finished: conclude from its outcome (unless it already did), send nothing. */
  | { readonly kind: 'outcome'; readonly key: string; readonly entry: ResultEntry | undefined; readonly concluded: boolean }
  /** Must be checked but cannot be now (Redis away, or its holder still busy): park and look later. */
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface ClaimStats {
  /** Attempts sent again although an earlier holder may have sent them (its claim expired unfinished). */
  readonly takeovers: number;
  /** Redelivered attempts settled from a recorded outcome, nothing sent. */
  readonly replays: number;
  /** Redis is configured but skipped for now (it did not answer in time). */
  readonly degraded: boolean;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

interface ClaimCommands {
  mtaqClaimBatch(numKeys: number, ...args: (string | number)[]): Promise<Array<number | string>>;
  mtaqClaimRenew(numKeys: number, ...args: (string | number)[]): Promise<number>;
  mtaqClaimRelease(key: string, live: string, ttl: number): Promise<number>;
  mtaqClaimConclude(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/**
 * Claim, then send, then conclude: the record that makes a delivery attempt happen at most once
 * although the broker may hand the same message out again (a crash, a dropped channel, a restart).
 * Claims live in Redis when it is configured and answering, and always in a local mirror, so a
 * redelivery into the same process is recognised even without Redis.
 *
 * Hot path: one round trip to take a claim, one to record the outcome; the takes and records asked
 * for in one event-loop iteration share one script call (a command costs the client and Redis more than
 * a key), and the "concluded" marks that follow are written in batches of their own.
 */
export class Claims {
  readonly #redis: (Redis & ClaimCommands) | undefined;
  readonly #prefix: string;
  readonly #liveTtl: number;
  readonly #outcomeTtl: number;
  readonly #pollMs: number;
  readonly #maxWaitMs: number;
  readonly #log: Logger;
  readonly #breaker: Breaker;
  readonly #local = new LocalClaims();
  readonly #held = new Map<string, Claim>();
  readonly #toConclude = new Set<string>();
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly #renewTimer: NodeJS.Timeout;
  #flushTimer: NodeJS.Timeout | undefined;
  /** Takes and records of this loop iteration, sent together after its poll phase. */
  #batch: PendingOp[] = [];
  #sequence = 0;
  #takeovers = 0;
  #replays = 0;

  constructor(options: ClaimsOptions = {}) {
    this.#prefix = options.prefix ?? 'mtaq:claim:';
    this.#liveTtl = options.liveTtlMs ?? 15_000;
    this.#outcomeTtl = options.outcomeTtlMs ?? 86_400_000;
    this.#pollMs = options.pollMs ?? 200;
    this.#maxWaitMs = options.maxWaitMs ?? 120_000;
    this.#log = (options.logger ?? silentLogger).child({ component: 'claims' });
    this.#breaker = new Breaker(options.breakerMs ?? 5000, (open) => {
      if (open) this.#log.error('Redis did not answer in time: claims are kept in this process only until it does; redelivered messages wait in a delay queue meanwhile');
      else this.#log.warn('Redis answers again: claims are shared across delivery processes');
    });
    if (options.redis) {
      const redis = options.redis;
      redis.defineCommand('mtaqClaimBatch', { lua: BATCH });
      redis.defineCommand('mtaqClaimRenew', { lua: RENEW });
      redis.defineCommand('mtaqClaimRelease', { lua: RELEASE, numberOfKeys: 1 });
      redis.defineCommand('mtaqClaimConclude', { lua: CONCLUDE });
      this.#redis = redis as Redis & ClaimCommands;
    }
    this.#renewTimer = setInterval(() => void this.#renew(), this.#liveTtl / 3);
    this.#renewTimer.unref();
  }

  /** Resolves once Redis answers, or after `timeoutMs` (the breaker takes over from there). */
  async ready(timeoutMs: number): Promise<boolean> {
    const redis = this.#redis;
    if (redis === undefined) return false;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (redis.status === 'ready') return true;
      await sleep(50);
    }
    this.#log.warn({ waitedMs: timeoutMs }, 'Redis not ready at start-up: claims kept in this process until it is');
    return false;
  }

  stats(): ClaimStats {
    return { takeovers: this.#takeovers, replays: this.#replays, degraded: this.#redis !== undefined && this.#breaker.open };
  }

  /**
   * Takes the claim for `identity`. Only identities that must be checked respect an existing claim:
   * a live one of someone else is waited for (polling) until it holds an outcome or expires.
   */
  async take(identity: Identity, signal?: AbortSignal): Promise<ClaimAnswer> {
    const key = this.#prefix + identity.key;
    const live = `L|${this.#owner}:${++this.#sequence}`;
    const deadline = Date.now() + this.#maxWaitMs;
    let waited = false;
    for (;;) {
      const shared = await this.#batched(key, identity.mustCheck ? 'T' : 't', live);
      let existing: string | undefined;
      if (typeof shared === 'number') {
        const takeover = identity.mustCheck && (waited || (shared === 0 && identity.redelivered));
        return this.#own(key, live, takeover, identity);
      } else if (typeof shared === 'string') {
        // this process may know more than Redis yet: "concluded" marks are written in batches
        existing = this.#local.get(key) === 'C' ? 'C' : shared;
      } else {
        // Redis not configured or not answering: the local mirror is all there is to go by.
        const local = identity.mustCheck ? this.#local.get(key) : undefined;
        if (local === undefined || local === 'R') {
          if (this.#redis !== undefined && identity.redelivered) return { kind: 'unavailable', reason: 'claims cannot be read (Redis is not answering)' };
          return this.#own(key, live, waited || (identity.redelivered && local === undefined), identity);
        }
        existing = local;
      }
      const answer = settled(key, existing);
      if (answer) {
        this.#replays++;
        return answer;
      }
      // someone else holds it: wait for its outcome, or for it to expire unfinished
      if (Date.now() > deadline || signal?.aborted) return { kind: 'unavailable', reason: 'another delivery still holds this attempt' };
      waited = true;
      await sleep(this.#pollMs, signal);
    }
  }

  /** Writes the outcome before anything is published about it; never throws. */
  async record(claim: Claim, entry: ResultEntry): Promise<void> {
    this.#held.delete(claim.key);
    const value = `O|${claim.live.slice(2)}|${JSON.stringify(entry)}`;
    this.#local.set(claim.key, value, this.#outcomeTtl);
    await this.#batched(claim.key, 'O', value);
  }

  /** The outcome was published and the message is about to be acked: a late redelivery just acks. */
  concluded(claim: Pick<Claim, 'key'>): void {
    this.#held.delete(claim.key);
    this.#local.set(claim.key, 'C', this.#outcomeTtl);
    if (this.#redis === undefined) return;
    this.#toConclude.add(claim.key);
    this.#flushTimer ??= setTimeout(() => void this.#flush(), 20);
  }

  /** Gives an unsent attempt back (shutdown, channel lost before sending); never throws. */
  async release(claim: Claim): Promise<void> {
    this.#held.delete(claim.key);
    if (this.#local.get(claim.key) === claim.live) this.#local.set(claim.key, 'R', this.#liveTtl);
    await this.#call((redis) => redis.mtaqClaimRelease(claim.key, claim.live, this.#liveTtl));
  }

  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    clearTimeout(this.#flushTimer);
    await this.#flush();
  }

  #own(key: string, live: string, takeover: boolean, identity: Identity): ClaimAnswer {
    const claim = { key, live };
    this.#local.set(key, live, this.#liveTtl);
    this.#held.set(key, claim);
    if (takeover) {
      this.#takeovers++;
      this.#log.warn({ claim: identity.key }, 'redelivered attempt has no recorded outcome: sending it again (its earlier holder may have sent it)');
    }
    return { kind: 'owned', claim, takeover };
  }

  /** `op` against Redis through the breaker; undefined when Redis is not there or did not answer. */
  async #call<T>(op: (redis: Redis & ClaimCommands) => Promise<T>): Promise<T | undefined> {
    const redis = this.#redis;
    if (redis === undefined || redis.status !== 'ready' || !this.#breaker.allow()) return undefined;
    try {
      const value = await op(redis);
      this.#breaker.success();
      return value;
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'claim operation failed');
      this.#breaker.failure();
      return undefined;
    }
  }

  /** Queues a take or record for the batch of this turn; undefined when Redis is not there or did not answer. */
  #batched(key: string, op: PendingOp['op'], value: string): Promise<number | string | undefined> {
    if (this.#redis === undefined) return Promise.resolve(undefined);
    return new Promise((done) => {
      // the flush runs after the poll phase (setImmediate, not nextTick, which runs after every single
      // callback): the record and next take of every connection whose reply was read in this loop
      // iteration go out together (delivery20: 10,679 → 1,951 script calls for 10,000 messages)
      if (this.#batch.length === 0) setImmediate(() => void this.#sendBatch());
      this.#batch.push({ key, op, value, done });
    });
  }

  async #sendBatch(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    const args: (string | number)[] = batch.map((p) => p.key);
    args.push(this.#liveTtl, this.#outcomeTtl);
    for (const p of batch) args.push(p.op, p.value);
    const answers = await this.#call((redis) => redis.mtaqClaimBatch(batch.length, ...args));
    batch.forEach((p, i) => p.done(answers?.[i]));
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return;
    const held = [...this.#held.values()];
    for (const claim of held) this.#local.set(claim.key, claim.live, this.#liveTtl);
    await this.#call((redis) => redis.mtaqClaimRenew(held.length, ...held.map((c) => c.key), this.#liveTtl, ...held.map((c) => c.live)));
  }

  async #flush(): Promise<void> {
    this.#flushTimer = undefined;
    if (this.#toConclude.size === 0) return;
    const keys = [...this.#toConclude];
    this.#toConclude.clear();
    // one script call per batch rather than one SET per message: a command costs the client more than a key
    await this.#call((redis) => redis.mtaqClaimConclude(keys.length, ...keys, this.#outcomeTtl));
  }
}

/** The answer for a claim value that records an outcome, or undefined for a live claim. */
function settled(key: string, value: string): ClaimAnswer | undefined {
  if (value === 'C') return { kind: 'outcome', key, entry: undefined, concluded: true };
  if (value.startsWith('O|')) {
    const json = value.slice(value.indexOf('|', 2) + 1);
    try {
      return { kind: 'outcome', key, entry: JSON.parse(json) as ResultEntry, concluded: false };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
