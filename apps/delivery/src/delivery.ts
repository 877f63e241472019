import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { ConsumeMessage } from 'amqplib';
import type { Config } from '@mtaq/config';
import { decodeMessage, encodeMessage, formatTime, parseOutgoing, tryParseTime, type OutgoingMessage, type ResultEntry } from '@mtaq/envelope';
import { UnroutableError } from '@mtaq/errors';
import type { Budgets } from '@mtaq/limits';
import type { Logger } from '@mtaq/log';
import { Linger, queueArguments, type DeliveryContext, type Disposition, type Publisher, type QueueDeclarer } from '@mtaq/queue';
import { CHECK_HEADER, COPY_HEADER, copyId, identify, type Claim, type Claims, type Identity } from './claims/index.js';
import {
  conclude,
  delayBucket,
  delayQueue,
  PAUSE_RECHECK_SECONDS,
  pauseParkQueue,
  expiredOutcome,
  localFailure,
  firstPickup,
  isExpired,
  loopingQueue,
  parkDelay,
  publishPriority,
  resolveQueue,
  resultDocument,
  resultEntry,
  targets,
  unusableAddress,
  deadLetterReason,
  type AttemptOutcome,
  type Conclusion,
  type Publication,
} from './outcome/index.js';
import { BindError, DnsError, type Router, type SourceIps } from './routing/index.js';
import {
  applyResponsePatterns,
  FloodGuard,
  findForcedError,
  findPause,
  findSuppression,
  noRules,
  replyText,
  type DeliveryFacts,
  type DeliveryRules,
  type Pause,
} from './rules/index.js';
import type { DkimSigner } from './dkim.js';
import { AwaitOwner, ForwardTo, OWNER_WAIT_SECONDS, type Placement } from './cluster/placement.js';
import { HOPS_HEADER, hopsOf } from './cluster/ownership.js';
import { SendLog } from './send-log.js';
import { writeToFolder } from './transport/folder.js';
import { applyHeaderEdits, headerEditsProblem } from './transport/header-edits.js';
import { OverCapacity, TransactionAborted, type TransactionGuard, type UpstreamPool } from './transport/pool.js';
import type { DeliveryMetrics } from './metrics.js';

export interface DeliveryDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly publisher: Publisher;
  readonly declarer: QueueDeclarer;
  readonly router: Router;
  readonly sources: SourceIps;
  readonly pool: UpstreamPool;
  readonly budgets: Budgets | undefined;
  readonly claims: Claims;
  readonly dkim: DkimSigner;
  /** Counters for /metrics (attempts by state and result, retries). */
  readonly metrics?: DeliveryMetrics | undefined;
  /** The rule tables (§7.10); absent = no database configured, no rules. */
  readonly rules?: DeliveryRules;
  /**
   * This instance's name for pauses and forced errors with `cluster: false`: they bind only the
   * instance they name (`server-id`, as text). Default `String(config['server-id'])`.
   */
  readonly instance?: string;
  /** Which node of the cluster sends a message (§9); absent = this process sends from any IP it can bind. */
  readonly placement?: Placement;
}

/** Seconds an over-capacity message waits in a delay queue before it is tried again. */
const CAPACITY_PARK_SECONDS = 5;
/** Seconds a redelivery waits when its claim cannot be read (Redis away, holder still busy). */
const CHECK_PARK_SECONDS = 5;
/** Times one message may make the handler fail before it goes to the failure queue. */
export const MAX_HANDLER_FAILURES = 5;
/** How long a conclusion that the broker refuses is retried before it takes the failure path. */
const CONCLUDE_RETRY_MS = 20_000;
/**
 * A conclusion's publishes wait up to this long (ms) for others to go with them, or until this many
 * gather: at one connection RabbitMQ otherwise syncs every persistent result on its own (Linger).
 * The wait holds only the result documents and the ack, never the next SMTP transaction; 25 ms
 * rather than 5 halved RabbitMQ's CPU per message at one connection (552–960 → 236–400 µs,
 * alternating compare rounds, issue 13).
 */
const CONCLUDE_LINGER_MS = 25;
const CONCLUDE_LINGER_MAX = 32;

/** Our AMQP delivery was lost while we worked: whoever holds the redelivery concludes. */
class Orphaned extends Error {}

/** A pause (§7.10) covers the delivery: park it, no attempt, no results entry. */
class Paused extends Error {
  constructor(readonly pause: Pause) {
    super(`paused by pause ${String(pause.id ?? '')}`.trim());
  }
}

/** Flood patterns (§7.9) paused every usable source IP for the domain: wait out the shortest pause. */
class FloodPaused extends Error {
  constructor(readonly seconds: number) {
    super(`flood pause for ${seconds}s`);
  }
}

// in outcome/delay-queues.ts, which the console reads without loading delivery (@mtaq/delivery/delay-queues)
export { PAUSE_RECHECK_SECONDS, pauseParkQueue };

interface Copy {
  readonly id: string;
  /** The copy is a redelivery whose claim could not be read: this claim key is checked when it comes back. */
  readonly check?: string;
}

/**
 * Delivery of one outbox message (reference §7.1): parse, loops, park, claim, expiry, route, source
 * address, budgets, SMTP (or the folder), then the outcome — recorded in the claim first, then
 * published with broker confirms. Only after those confirms is the outbox message acked, so a crash
 * anywhere leaves it on the queue, and the claim makes sure its redelivery sends nothing twice.
 */
export class Delivery {
  readonly #deps: DeliveryDeps;
  readonly #config: Config;
  readonly #log: Logger;
  /** Aborted when the process starts to stop: no new transactions. */
  readonly #stopping = new AbortController();
  /** Aborted at the shutdown deadline: transactions that have not sent their dot are cut. */
  readonly #abortUnsent = new AbortController();
  /** Handler failures per attempt, so that a poison message cannot cycle forever. */
  readonly #failures = new Map<string, number>();
  /** send-log-file: one line per attempt (undefined while it is empty). */
  readonly #sendLog: SendLog | undefined;
  readonly #rules: DeliveryRules;
  readonly #instance: string;
  /** Flood pattern pauses and reduced capacities per (source IP, domain), this process's own. */
  readonly #floods = new FloodGuard();
  /** Gathers the conclusions' publishes of a few milliseconds into one group for the broker. */
  readonly #linger = new Linger(CONCLUDE_LINGER_MS, CONCLUDE_LINGER_MAX);

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#log = deps.logger.child({ component: 'delivery' });
    this.#sendLog = SendLog.fromConfig(deps.config, this.#log);
    this.#rules = deps.rules ?? noRules;
    this.#instance = deps.instance ?? String(deps.config['server-id']);
    // every transaction in flight listens on these two (bounded by the connection budgets), so more
    // than Node's default of 10 listeners is normal here and not a leak
    setMaxListeners(0, this.#stopping.signal, this.#abortUnsent.signal);
  }

  /** Stop starting transactions; messages not yet sent go back to the queue. */
  stopStarting(): void {
    this.#stopping.abort();
  }

  /** Cut every transaction that has not sent its final dot (it is redelivered later). */
  abortUnsent(): void {
    this.#stopping.abort();
    this.#abortUnsent.abort();
  }

  async handle(amqp: ConsumeMessage, context: DeliveryContext): Promise<Disposition> {
    const identity = identify(amqp);
    try {
      const disposition = await this.#handle(amqp, context, identity);
      this.#failures.delete(identity.key);
      return disposition;
    } catch (err) {
      if (err instanceof Orphaned || !context.live()) return 'requeue'; // settled by the redelivery's holder
      const failures = (this.#failures.get(identity.key) ?? 0) + 1;
      if (failures < MAX_HANDLER_FAILURES) {
        if (this.#failures.size >= 10_000) this.#failures.delete(this.#failures.keys().next().value as string);
        this.#failures.set(identity.key, failures);
        throw err;
      }
      this.#failures.delete(identity.key);
      await this.#giveUp(amqp, `handling failed ${failures} times, last: ${(err as Error).message}`);
      return 'ack';
    }
  }

  async #handle(amqp: ConsumeMessage, context: DeliveryContext, identity: Identity): Promise<Disposition> {
    let message: OutgoingMessage;
    try {
      message = parseOutgoing(decodeMessage(amqp.content, amqp.properties.contentEncoding as string | undefined, this.#maxDocumentBytes()));
    } catch (err) {
      await this.#invalid(amqp, (err as Error).message);
      return 'ack';
    }
    const now = new Date();
    const deadline = firstPickup(message, now, this.#config);
    if (deadline) message.maxdelivertime = deadline;
    const attempts = Array.isArray(message.results) ? message.results.length : 0;
    const mid = message['message-id'];
    const log = this.#log.child({ mid, rcpt: message.recipient });

    const loop = loopingQueue(message, this.#config);
    if (loop) {
      const reason = `its ${loop.kind} queue "${loop.queue}" is a queue delivery consumes from; publishing there would send it again and again`;
      log.error({ queue: loop.queue }, 'refused: result queue loops back into delivery');
      await this.#refuse(message, resultEntry({ state: 'process', result: 'invalid', description: reason }, now), log);
      return 'ack';
    }
    const unusable = unusableAddress(message, this.#config);
    if (unusable) {
      log.warn({ reason: unusable }, 'unusable address');
      await this.#conclude(message, resultEntry({ state: 'process', result: 'invalid', description: unusable }, now), identity, context, log);
      return 'ack';
    }
    const early = parkDelay(message, now);
    if (early !== undefined) {
      await this.#park(message, early, { id: copyId(identity, 'park'), ...(identity.redelivered ? { check: identity.key } : {}) });
      return 'ack';
    }
    if (this.#stopping.signal.aborted) return 'requeue';

    // A redelivery (or a copy of ours) looks at its claim before anything else: an earlier holder may
    // have made this attempt already. A first delivery takes its claim only when it is about to send,
    // so messages still waiting for a connection hold none (a crash leaves nothing for them to expire).
    let claim: Claim | undefined;
    if (identity.mustCheck) {
      const answer = await this.#deps.claims.take(identity, context.signal);
      if (!context.live()) {
        if (answer.kind === 'owned') await this.#deps.claims.release(answer.claim);
        return 'requeue'; // whoever holds the redelivery takes it from here
      }
      if (answer.kind === 'unavailable') {
        log.warn({ reason: answer.reason, wait: CHECK_PARK_SECONDS }, 'redelivered message parked until its claim can be checked');
        await this.#park(message, CHECK_PARK_SECONDS, { id: copyId(identity, 'park'), check: identity.key });
        return 'ack';
      }
      if (answer.kind === 'outcome') {
        if (answer.concluded || answer.entry === undefined) return 'ack';
        log.warn({ attempt: attempts + 1 }, 'attempt already made before this redelivery; concluding from its recorded outcome, sending nothing');
        const replayed = this.#responsePatterns(message, answer.entry, log);
        await this.#conclude(replayed.message, replayed.entry, identity, context, log, replayed.retryAfter);
        this.#deps.claims.concluded(answer);
        return 'ack';
      }
      claim = answer.claim;
    }
    // Taken once: by begin() right before the transaction, or earlier by the pool's prepare() while
    // the message is next in line for a busy connection (so the hand-over does not wait for Redis).
    let claiming: Promise<void> | undefined;
    const begin = (): Promise<void> => {
      if (claim) return Promise.resolve();
      claiming ??= (async () => {
        const answer = await this.#deps.claims.take(identity, context.signal);
        if (answer.kind !== 'owned') throw new Error(`claim not granted: ${answer.kind}`); // a first delivery always gets its claim
        claim = answer.claim;
      })();
      return claiming;
    };
    /** The claim once no take is in flight any more: one started by prepare() may still be on its way. */
    const held = async (): Promise<Claim | undefined> => {
      await claiming?.catch(() => undefined);
      return claim;
    };
    /** The accepted outcome recorded by the pool before it reused the connection (settle). */
    let settled: { readonly outcome: AttemptOutcome; readonly entry: ResultEntry } | undefined;
    const settle = async (outcome: AttemptOutcome): Promise<void> => {
      const owned = await held();
      if (!owned) return;
      const recorded = resultEntry(outcome, new Date());
      await this.#deps.claims.record(owned, recorded);
      settled = { outcome, entry: recorded };
    };
    let entry: ResultEntry;
    let retryAfter: number | undefined;
    if (isExpired(message, attempts, now, this.#config)) {
      entry = resultEntry(expiredOutcome(), now);
    } else {
      let outcome: AttemptOutcome;
      try {
        outcome = await this.#attempt(message, context, begin, settle, log, hopsOf(amqp.properties.headers));
      } catch (err) {
        if (await held()) await this.#deps.claims.release(claim!);
        if (err instanceof OverCapacity) {
          // over budget is not a failure: the message waits and keeps its attempts
          await this.#park(message, CAPACITY_PARK_SECONDS, { id: copyId(identity, 'park') });
          return 'ack';
        }
        if (err instanceof Paused) {
          // paused is not a failure either (C50): parked without a results entry, rechecked later
          log.info({ pause: err.pause.id, recheck: PAUSE_RECHECK_SECONDS }, 'paused: message parked');
          await this.#parkPaused(message, { id: copyId(identity, 'park') });
          return 'ack';
        }
        if (err instanceof ForwardTo) {
          // §9: another live node owns the IPs; its queue takes the message, this copy is acked after the confirm
          log.info({ node: err.node['server-id'], queue: err.node.queue }, 'source IPs belong to another node: forwarded');
          try {
            await this.#forward(message, err.node.queue, hopsOf(amqp.properties.headers) + 1, { id: copyId(identity, 'park') });
          } catch (failed) {
            // its queue is missing or the broker refused: the message waits and is placed again
            log.warn({ queue: err.node.queue, err: (failed as Error).message }, 'cannot forward: message parked');
            await this.#park(message, OWNER_WAIT_SECONDS, { id: copyId(identity, 'park') });
          }
          return 'ack';
        }
        if (err instanceof AwaitOwner) {
          log.info({ wait: err.seconds, reason: err.message }, 'source IPs belong to a node that cannot take it now: message parked');
          await this.#park(message, err.seconds, { id: copyId(identity, 'park') });
          return 'ack';
        }
        if (err instanceof FloodPaused) {
          log.info({ wait: err.seconds }, 'flood pattern pause: message parked');
          await this.#park(message, err.seconds, { id: copyId(identity, 'park') });
          return 'ack';
        }
        if (err instanceof TransactionAborted) return 'requeue';
        throw err;
      }
      // the entry settle() recorded is the one published: a redelivery would replay that very entry
      entry = settled?.outcome === outcome ? settled.entry : resultEntry(outcome, new Date());
      this.#observeFloods(message, entry, log);
      // §7.10 response patterns: may override the classification and change the message
      const patterned = this.#responsePatterns(message, entry, log);
      message = patterned.message;
      entry = patterned.entry;
      retryAfter = patterned.retryAfter;
    }
    // the outcome is safe before anything is published about it: a redelivery replays, never resends
    // (an accepted one was recorded by settle() already, before its connection sent anything else;
    // a redelivery applies the response patterns to it again)
    if (settled === undefined && (await held())) await this.#deps.claims.record(claim!, entry);
    if (!context.live()) {
      log.warn({ attempt: attempts + 1, result: entry.result }, 'AMQP delivery lost during the attempt; its redelivery concludes from the recorded outcome');
      return 'requeue';
    }
    await this.#conclude(message, entry, identity, context, log, retryAfter);
    if (claim) this.#deps.claims.concluded(claim);
    return 'ack';
  }

  /** One attempt, as an outcome; never throws for a delivery reason (only OverCapacity, TransactionAborted). */
  async #attempt(
    message: OutgoingMessage,
    context: DeliveryContext,
    begin: () => Promise<void>,
    settle: (outcome: AttemptOutcome) => Promise<void>,
    log: Logger,
    hops = 0,
  ): Promise<AttemptOutcome> {
    const { router, sources, pool, budgets } = this.#deps;
    // One snapshot of the rules for the whole attempt, so a reload halfway cannot mix two versions.
    const rules = this.#rules.current();
    // §7.1 step 4 (C49): the suppression list before any DNS or network step.
    const suppressed = findSuppression(rules.suppressions, message.recipient);
    if (suppressed) {
      return {
        state: 'suppression',
        result: 'error',
        code: suppressed.code,
        ...(suppressed.extended ? { status: suppressed.extended } : {}),
        ...(suppressed.description ? { description: suppressed.description } : {}),
      };
    }
    // What this build cannot do with the message is known before any lookup or connection (§4).
    const invalidEdits = headerEditsProblem(message.headers);
    if (invalidEdits) return { state: 'process', result: 'invalid', description: invalidEdits };
    const mime = mimeOf(message);
    if ('state' in mime) return mime;
    const unsupported = unsupportedConversion(message);
    if (unsupported) {
      if (message.force !== true) return unsupported;
      log.warn({ reason: unsupported.description }, 'force: sending the MIME as is');
    }
    if (message.inlinecss === true) log.warn('inlinecss is not supported: the MIME is sent as is');
    let route;
    try {
      route = await router.route(message);
    } catch (err) {
      if (err instanceof DnsError) return localFailure(err, err.transient);
      throw err;
    }
    // header edits before DKIM, so the signature covers the edited header (§7.1 step 7)
    const edited = applyHeaderEdits(mime, message.headers);
    if (route.kind === 'folder') {
      await begin();
      const path = await writeToFolder(route.folder, {
        id: message['message-id'],
        envelope: message.envelope ?? '',
        recipient: message.recipient,
        mime: await this.#deps.dkim.sign(message, edited),
      });
      return { state: 'message', result: 'accepted', code: 250, status: '2.0.0', description: `written to ${path}` };
    }
    let source: string;
    try {
      const local = this.#deps.placement ? await this.#deps.placement.usable(message, hops) : await sources.usable(message);
      // §7.9 flood patterns: a source IP paused for this domain is not used while another is free
      const floodDomain = recipientDomain(message.recipient);
      const usable = local.filter((ip) => this.#floods.pausedFor(ip, floodDomain) === 0);
      if (usable.length === 0) throw new FloodPaused(Math.min(...local.map((ip) => this.#floods.pausedFor(ip, floodDomain))));
      const family = route.hosts[0]?.addresses[0]?.includes(':') ? 6 : 4;
      source = sources.pick(usable, family) ?? sources.pick(usable)!;
    } catch (err) {
      if (err instanceof BindError) return localFailure(err, false);
      throw err;
    }
    const scope = { source, pool: typeof message.pool === 'string' ? message.pool : undefined, domain: route.domain, destination: route.destination };
    // §7.1 step 6: forced errors, then pauses, now that the source and the remote hosts are known
    const facts: DeliveryFacts = {
      recipient: message.recipient,
      domain: recipientDomain(message.recipient),
      source,
      ...(scope.pool !== undefined ? { pool: scope.pool } : {}),
      remotes: route.hosts.flatMap((h) => h.addresses),
      tags: tagsOf(message),
    };
    const forced = findForcedError(rules.errors, facts, this.#instance);
    if (forced) {
      // C51: the rule's result without connecting; 4xx retries, 5xx fails (§7.2 by its code)
      return {
        state: 'connect',
        result: 'error',
        code: forced.code,
        ...(forced.extended ? { status: forced.extended } : {}),
        description: forced.description || `forced error ${String(forced.id ?? '')}`.trim(),
        from: source,
      };
    }
    const pause = findPause(rules.pauses, facts, this.#instance);
    if (pause) throw new Paused(pause);
    if (budgets && !(await budgets.takeMessage(scope))) throw new OverCapacity(`message rate budget for ${route.destination} used up`);
    const dsn = message.dsn;
    const stopping = this.#stopping.signal;
    const guard: TransactionGuard = {
      live: () => context.live() && !stopping.aborted,
      stopped: [context.signal, stopping],
      abort: this.#abortUnsent.signal,
      begin,
      prepare: () => void begin().catch(() => undefined), // a failure shows again when begin() is awaited
      settle,
    };
    // §7.9 reduced capacity after a flood reply: over it, the message waits like any over-budget one
    const floodDomain = recipientDomain(message.recipient);
    if (!this.#floods.enter(source, floodDomain)) throw new OverCapacity(`reduced capacity after a flood reply: ${source} → ${floodDomain}`);
    try {
      return await pool.send({
        scope,
        hosts: route.hosts,
        ehlo: await sources.ehloName(source),
        auth: route.auth,
        security: message.security ?? 'opportunistic',
        envelope: {
          from: message.envelope ?? '',
          to: [message.recipient],
          ...(dsn
            ? {
                dsn: {
                  ...(dsn.ret ? { ret: dsn.ret } : {}),
                  ...(dsn.envid ? { envid: dsn.envid } : {}),
                  ...(dsn.notify ? { notify: dsn.notify.split(',') } : {}),
                  ...(dsn.orcpt ? { orcpt: dsn.orcpt } : {}),
                },
              }
            : {}),
        },
        message: await this.#deps.dkim.sign(message, edited),
        guard,
      });
    } finally {
      this.#floods.leave(source, floodDomain);
    }
  }

  /**
   * Publishes the conclusion of `entry`; resolves once the broker confirmed it all. Result documents
   * that cannot be published go to the failure queue (or the log) instead: the attempt is settled
   * and is never sent again for their sake. Only the outbox copy for the next attempt must get
   * through, or the message stays unacked and its redelivery replays the recorded outcome.
   */
  async #conclude(message: OutgoingMessage, entry: ResultEntry, identity: Identity, context: DeliveryContext, log: Logger, retryAfter?: number): Promise<void> {
    const conclusion = withRetryAfter(conclude(message, entry, this.#config, () => `dsn-${copyId(identity, 'dsn')}`), entry, retryAfter);
    await this.#linger.wait();
    const work: Array<Promise<unknown>> = conclusion.results.map((p) => this.#publishResult(p, message, context, log));
    if (conclusion.bounce) work.push(this.#publishResult(conclusion.bounce, conclusion.bounce.document as OutgoingMessage, context, log, copyId(identity, 'dsn')));
    if (conclusion.retry) {
      const { document, delaySeconds } = conclusion.retry;
      work.push(this.#withRetries(() => this.#delay(document, delaySeconds, { id: copyId(identity, 'retry') }), context).then((error) => {
        if (error) throw error;
      }));
    }
    const settled = await Promise.allSettled(work);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    this.#deps.metrics?.attempt(entry.state, entry.result, conclusion.retry !== undefined);
    this.#sendLog?.write(message, entry, (message.results?.length ?? 0) + 1);
    log.info(
      { attempt: (message.results?.length ?? 0) + 1, state: entry.state, result: entry.result, code: entry.code, outcome: conclusion.decision.kind, ...(conclusion.decision.kind === 'success' ? {} : { reason: entry.description }) },
      'delivery attempt',
    );
  }

  /**
   * One result document (or bounce) to its queue. A queue named by the message that does not exist
   * is declared when `rabbitmq-declare` allows, else the configured queue of that kind stands in.
   * Past the retry budget the document goes to the failure queue with the reason; never throws
   * except when the AMQP delivery is lost.
   */
  async #publishResult(publication: Publication, source: OutgoingMessage, context: DeliveryContext, log: Logger, copy?: string): Promise<void> {
    const configured = resolveQueue({}, publication.kind, this.#config);
    let queue = publication.queue;
    let declared = false;
    for (;;) {
      const error = await this.#withRetries(() => this.#publish(queue, publication.document, source, copy ? { id: copy } : undefined), context);
      if (!error) return;
      if (error instanceof UnroutableError && !declared && this.#config['rabbitmq-declare']) {
        declared = true;
        const ok = await this.#deps.declarer.ensure(queue, this.#queueArguments()).then(
          () => true,
          () => false,
        );
        if (ok) continue;
      }
      if (configured !== undefined && configured !== queue) {
        log.warn({ queue, instead: configured, err: error.message }, `cannot publish to the message's own ${publication.kind} queue; using the configured one`);
        queue = configured;
        declared = true;
        continue;
      }
      await this.#failedPublication(publication, queue, error, context, log);
      return;
    }
  }

  /** A result document that could not be published anywhere it was meant to go. */
  async #failedPublication(publication: Publication, queue: string, error: Error, context: DeliveryContext, log: Logger): Promise<void> {
    const failure = targets({}, 'failure', this.#config).find((q) => q !== queue);
    const document = publication.document as { results?: ResultEntry[] };
    if (failure !== undefined) {
      const note = resultEntry({ state: 'process', result: 'error', description: `could not publish to ${publication.kind} queue "${queue}": ${error.message}` }, new Date());
      const noted = { ...document, results: [...(document.results ?? []), note] };
      const again = await this.#withRetries(() => this.#publish(failure, noted, {} as OutgoingMessage), context);
      if (!again) {
        log.error({ queue, failure, err: error.message }, `${publication.kind} document published to the failure queue instead`);
        return;
      }
    }
    log.error({ queue, err: error.message, ...fingerprint(Buffer.from(JSON.stringify(publication.document))) }, `${publication.kind} document could not be published and is dropped`);
  }

  /** `op` retried with backoff while the broker refuses it, for a bounded time; the last error or undefined. */
  async #withRetries(op: () => Promise<void>, context: DeliveryContext): Promise<Error | undefined> {
    const deadline = Date.now() + CONCLUDE_RETRY_MS;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
      try {
        await op();
        return undefined;
      } catch (err) {
        if (!context.live()) throw new Orphaned((err as Error).message);
        if (err instanceof UnroutableError || Date.now() + wait > deadline || this.#abortUnsent.signal.aborted) return err as Error;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Back to the outbox after `seconds`, through a TTL queue that dead-letters into it (§7.4). */
  async #delay(document: OutgoingMessage, seconds: number, copy: Copy): Promise<void> {
    const config = this.#config;
    const queue = delayQueue(config['rabbitmq-outbox'], delayBucket(seconds, config), config);
    await this.#deps.declarer.ensure(queue.name, queue.arguments, queue.redeclareWithinMs);
    await this.#publish(queue.name, document, document, copy);
  }

  /**
   * A paused message waits in {@link pauseParkQueue} (§7.4), a TTL queue that dead-letters it back
   * into the outbox, where it meets the pauses again; lifting the pause releases the queue at once.
   * Its `results` stay untouched.
   */
  async #parkPaused(message: OutgoingMessage, copy: Copy): Promise<void> {
    const config = this.#config;
    const outbox = config['rabbitmq-outbox'];
    const queue = delayQueue(outbox, PAUSE_RECHECK_SECONDS, config);
    const name = pauseParkQueue(outbox);
    await this.#deps.declarer.ensure(name, queue.arguments, queue.redeclareWithinMs);
    await this.#publish(name, message, message, copy);
  }

  /**
   * §7.10 response patterns over a remote reply (an entry with a code and a remote address); local
   * outcomes (suppression, forced errors, DNS, bind) are not replies and are left alone. Applied to
   * the recorded entry again when a redelivery replays it: setting the same properties twice is
   * harmless, and the message changes (tags, ips, properties) are not recorded anywhere else.
   */
  #responsePatterns(message: OutgoingMessage, entry: ResultEntry, log: Logger): { message: OutgoingMessage; entry: ResultEntry; retryAfter?: number } {
    const patterns = this.#rules.current().patterns;
    if (patterns.length === 0 || entry.code === undefined || entry.to === undefined) return { message, entry };
    const facts: DeliveryFacts = {
      recipient: message.recipient,
      domain: recipientDomain(message.recipient),
      ...(entry.from !== undefined ? { source: entry.from } : {}),
      ...(typeof message.pool === 'string' ? { pool: message.pool } : {}),
      remotes: [entry.to],
      tags: tagsOf(message),
    };
    const effect = applyResponsePatterns(patterns, message, entry, facts);
    if (effect.applied.length > 0) log.info({ patterns: effect.applied, code: entry.code }, 'response patterns applied');
    return { message: effect.message, entry: effect.entry, ...(effect.retryAfter !== undefined ? { retryAfter: effect.retryAfter } : {}) };
  }

  /** §7.9: a remote reply matching a flood pattern pauses its source IP → domain pair. */
  #observeFloods(message: OutgoingMessage, entry: ResultEntry, log: Logger): void {
    const floods = this.#rules.current().floods;
    if (floods.length === 0 || entry.code === undefined || entry.to === undefined || entry.from === undefined) return;
    const domain = recipientDomain(message.recipient);
    const hit = this.#floods.observe(
      floods,
      { recipient: message.recipient, domain, source: entry.from, ...(typeof message.pool === 'string' ? { pool: message.pool } : {}), remotes: [entry.to], tags: tagsOf(message) },
      replyText(entry),
    );
    if (hit) log.warn({ flood: hit.id, source: entry.from, domain, pause: hit.pauseSeconds, reduced: hit.reducedSeconds }, 'flood pattern matched: source → domain paused');
  }

  /**
   * To another node's own queue (§9), stamped as a copy (a crash between this publish and the ack
   * leaves two copies of one attempt; the claim lets only one of them be sent) and with its hop
   * count, so the receiving node does not forward it again.
   */
  async #forward(message: OutgoingMessage, queue: string, hops: number, copy: Copy): Promise<void> {
    const { body, contentEncoding } = encodeMessage(message, { gzip: this.#config['rabbitmq-encoding'] === 'gzip' });
    const priority = publishPriority(message, this.#config);
    await this.#deps.publisher.publish(queue, body, {
      ...(contentEncoding ? { contentEncoding } : {}),
      ...(priority !== undefined ? { priority } : {}),
      headers: { [COPY_HEADER]: copy.id, [HOPS_HEADER]: hops },
    });
  }

  /** Not yet due, over budget or not checkable yet: wait in a delay queue; parking adds no result entry. */
  async #park(message: OutgoingMessage, seconds: number, copy: Copy): Promise<void> {
    await this.#delay(message, seconds, copy);
  }

  #publish(queue: string, document: object, source: OutgoingMessage, copy?: Copy): Promise<void> {
    const { body, contentEncoding } = encodeMessage(document, { gzip: this.#config['rabbitmq-encoding'] === 'gzip' });
    const priority = publishPriority(source, this.#config);
    return this.#deps.publisher.publish(queue, body, {
      ...(contentEncoding ? { contentEncoding } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(copy ? { headers: { [COPY_HEADER]: copy.id, ...(copy.check ? { [CHECK_HEADER]: copy.check } : {}) } } : {}),
    });
  }

  /** A message refused before any attempt: its result goes to the configured queues only, never its own. */
  async #refuse(message: OutgoingMessage, entry: ResultEntry, log: Logger): Promise<void> {
    const document = resultDocument(message, entry);
    const queues = targets({}, 'failure', this.#config);
    if (queues.length === 0) log.error({ ...fingerprint(Buffer.from(JSON.stringify(document))) }, 'no failure or results queue configured: refused message dropped');
    await Promise.all(queues.map((queue) => this.#publish(queue, document, {} as OutgoingMessage)));
  }

  /** §7.1 step 1: unusable input is acked and published as `{invalid, results}` to the failure queues. */
  async #invalid(amqp: ConsumeMessage, reason: string): Promise<void> {
    const entry = resultEntry({ state: 'process', result: 'invalid', description: reason }, new Date());
    const document = { invalid: amqp.content.toString('utf8'), results: [entry] };
    const queues = targets({}, 'failure', this.#config);
    this.#log.error({ reason, queue: amqp.fields.routingKey, ...fingerprint(amqp.content), published: queues }, 'unusable message on the outbox');
    await Promise.all(queues.map((queue) => this.#publish(queue, document, {} as OutgoingMessage)));
  }

  /**
   * A message from the quorum outbox's dead-letter queue (past its delivery limit): concluded into
   * the failure queues with an entry saying why. Throws when that publish fails (it is requeued there).
   */
  async deadLettered(amqp: ConsumeMessage): Promise<Disposition> {
    await this.#giveUp(amqp, deadLetterReason(amqp.properties.headers as Record<string, unknown> | undefined), 'dead-lettered message concluded as failed');
    return 'ack';
  }

  /** After MAX_HANDLER_FAILURES: the message goes to the failure queues with the reason, or to the log. */
  async #giveUp(amqp: ConsumeMessage, reason: string, what = 'giving up on a message that keeps failing'): Promise<void> {
    const entry = resultEntry({ state: 'process', result: 'error', description: reason }, new Date());
    let document: object;
    try {
      const message = parseOutgoing(decodeMessage(amqp.content, amqp.properties.contentEncoding as string | undefined, this.#maxDocumentBytes()));
      document = resultDocument(message, entry);
    } catch {
      document = { invalid: amqp.content.toString('utf8'), results: [entry] };
    }
    const queues = targets({}, 'failure', this.#config);
    this.#log.error({ reason, queue: amqp.fields.routingKey, ...fingerprint(amqp.content), published: queues }, what);
    await Promise.all(queues.map((queue) => this.#publish(queue, document, {} as OutgoingMessage)));
  }

  #queueArguments(): Record<string, unknown> {
    const config = this.#config;
    return queueArguments({ quorum: config['rabbitmq-quorum'], lazy: config['rabbitmq-lazy'], maxPriority: config['rabbitmq-maxpriority'] ?? 0 });
  }

  /** Largest JSON document (after gunzip) delivery reads: room for a message of `smtp-maxsize`, escaped. */
  #maxDocumentBytes(): number {
    return maxDocumentBytes(this.#config);
  }
}

/** Twice `smtp-maxsize` (JSON escaping) plus 1 MB for the properties, at least 64 MB. */
export function maxDocumentBytes(config: Pick<Config, 'smtp-maxsize'>): number {
  return Math.max(2 * config['smtp-maxsize'] + 1024 * 1024, 64 * 1024 * 1024);
}

function recipientDomain(recipient: string): string {
  const at = recipient.lastIndexOf('@');
  return at >= 0 ? recipient.slice(at + 1).toLowerCase() : '';
}

function tagsOf(message: OutgoingMessage): string[] {
  return Array.isArray(message.tags) ? message.tags.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * A response pattern's "retry after N s": the next attempt waits N seconds instead of the retry
 * schedule's delay (it still fails when that falls after the expiry time: decide() judged that with
 * the scheduled delay, so a longer N is checked here too).
 */
function withRetryAfter(conclusion: Conclusion, entry: ResultEntry, retryAfter: number | undefined): Conclusion {
  if (retryAfter === undefined || !conclusion.retry) return conclusion;
  const at = tryParseTime(entry.time) ?? new Date();
  const next = new Date(at.getTime() + retryAfter * 1000);
  const time = formatTime(next);
  const stamp = (d: object): object => ({ ...d, nextattempt: { ...((d as { nextattempt?: object }).nextattempt ?? {}), time } });
  return {
    ...conclusion,
    decision: conclusion.decision.kind === 'retry' ? { ...conclusion.decision, nextAttempt: next, delaySeconds: retryAfter } : conclusion.decision,
    results: conclusion.results.map((p) => ({ ...p, document: stamp(p.document) })),
    retry: { document: stamp(conclusion.retry.document) as OutgoingMessage, delaySeconds: retryAfter },
  };
}

/** What a log may say about a document it cannot show: its size and a hash, never its content. */
function fingerprint(body: Buffer): { size: number; sha256: string } {
  return { size: body.length, sha256: createHash('sha256').update(body).digest('hex').slice(0, 16) };
}

/**
 * The bytes to send; a store `key` or a "responsive" object cannot be sent by this build (§4). The
 * entries need no `fatal` flag (that one is for response patterns): these states are final (§7.2).
 */
function mimeOf(message: OutgoingMessage): Buffer | AttemptOutcome {
  if (typeof message.mime === 'string') return Buffer.from(message.mime, message['mime-encoding'] === 'latin1' ? 'latin1' : 'utf8');
  if (message.mime !== undefined) {
    return { state: 'responsive', result: 'error', description: 'responsive email (a mime object) is not supported by this build: send the MIME as a string' };
  }
  return { state: 'storage', result: 'error', description: `no message store in this build: cannot load key ${JSON.stringify(message.key)} (send the MIME in "mime")` };
}

/**
 * Personalisation (`data`, §4) is out of scope: the MIME would go out with its template variables
 * unreplaced, so such a message fails as `personalize/error` unless `force` asks to send it anyway.
 */
function unsupportedConversion(message: OutgoingMessage): AttemptOutcome | undefined {
  const data = message.data;
  if (data === undefined || data === null || (typeof data === 'object' && Object.keys(data).length === 0)) return undefined;
  return {
    state: 'personalize',
    result: 'error',
    description: 'personalisation ("data") is not supported by this build; set "force": true to send the MIME unpersonalised',
  };
}
