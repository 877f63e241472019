import type { ConsumeMessage } from 'amqplib';
import type { Config } from '@mtaq/config';
import {
  createMessageIdGenerator,
  decodeMessage,
  encodeMessage,
  parseOutgoing,
  type OutgoingMessage,
  type ResultEntry,
} from '@mtaq/envelope';
import type { Budgets } from '@mtaq/limits';
import type { Logger } from '@mtaq/log';
import type { Disposition, Publisher, QueueDeclarer } from '@mtaq/queue';
import {
  buildDsn,
  decide,
  delayBucket,
  delayQueue,
  expiredOutcome,
  firstPickup,
  isExpired,
  parkDelay,
  publishPriority,
  resolveQueue,
  resultDocument,
  resultEntry,
  retryCopy,
  retryDocument,
  targets,
  type AttemptOutcome,
  type DsnEvent,
} from './outcome/index.js';
import { BindError, DnsError, type Router, type SourceIps } from './routing/index.js';
import type { DkimSigner } from './dkim.js';
import type { SentMarkers } from './sent-markers.js';
import { writeToFolder } from './transport/folder.js';
import { OverCapacity, type UpstreamPool } from './transport/pool.js';

export interface DeliveryDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly publisher: Publisher;
  readonly declarer: QueueDeclarer;
  readonly router: Router;
  readonly sources: SourceIps;
  readonly pool: UpstreamPool;
  readonly budgets: Budgets | undefined;
  readonly markers: SentMarkers;
  readonly dkim: DkimSigner;
}

/** Seconds an over-capacity message waits in a delay queue before it is tried again. */
const CAPACITY_PARK_SECONDS = 5;

/**
 * Delivery of one outbox message (reference §7.1): parse, expiry, park, route, source address,
 * budgets, SMTP (or the folder), then the outcome published with broker confirms. Only after those
 * confirms is the outbox message acked, so a crash anywhere leaves it on the queue.
 */
export class Delivery {
  readonly #deps: DeliveryDeps;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #dsnId: () => string;

  constructor(deps: DeliveryDeps) {
    this.#deps = deps;
    this.#config = deps.config;
    this.#log = deps.logger.child({ component: 'delivery' });
    this.#dsnId = createMessageIdGenerator(deps.config['server-id']);
  }

  async handle(amqp: ConsumeMessage): Promise<Disposition> {
    let message: OutgoingMessage;
    try {
      message = parseOutgoing(decodeMessage(amqp.content, amqp.properties.contentEncoding as string | undefined));
    } catch (err) {
      await this.#invalid(amqp.content, (err as Error).message);
      return 'ack';
    }
    const now = new Date();
    const deadline = firstPickup(message, now, this.#config);
    if (deadline) message.maxdelivertime = deadline;
    const attempts = Array.isArray(message.results) ? message.results.length : 0;
    const mid = typeof message['message-id'] === 'string' ? message['message-id'] : undefined;
    const log = this.#log.child({ mid, rcpt: message.recipient });

    if (isExpired(message, attempts, now, this.#config)) {
      await this.#conclude(message, resultEntry(expiredOutcome(), now), log);
      return 'ack';
    }
    const early = parkDelay(message, now);
    if (early !== undefined) {
      await this.#park(message, early);
      return 'ack';
    }
    // delivered before a crash, redelivered by the broker: publish what happened, send nothing
    const marked = { id: mid, recipient: message.recipient, mime: typeof message.mime === 'string' ? message.mime : String(message.key ?? '') };
    const replay = amqp.fields.redelivered ? await this.#deps.markers.get(marked, attempts + 1) : undefined;
    if (replay) {
      log.warn({ attempt: attempts + 1 }, 'already delivered before a restart; publishing the stored result');
      await this.#conclude(message, replay, log);
      return 'ack';
    }

    let outcome: AttemptOutcome;
    try {
      outcome = await this.#attempt(message);
    } catch (err) {
      if (!(err instanceof OverCapacity)) throw err;
      // over budget is not a failure: the message waits and keeps its attempts
      await this.#park(message, CAPACITY_PARK_SECONDS);
      return 'ack';
    }
    const entry = resultEntry(outcome, new Date());
    if (entry.state === 'message' && entry.result === 'accepted') await this.#deps.markers.set(marked, attempts + 1, entry);
    await this.#conclude(message, entry, log);
    return 'ack';
  }

  /** One attempt, as an outcome; never throws for a delivery reason (only OverCapacity). */
  async #attempt(message: OutgoingMessage): Promise<AttemptOutcome> {
    const { router, sources, pool, budgets } = this.#deps;
    let route;
    try {
      route = await router.route(message);
    } catch (err) {
      if (err instanceof DnsError) return localFailure('dns', err, err.transient);
      throw err;
    }
    const mime = mimeOf(message);
    if ('state' in mime) return mime;
    if (route.kind === 'folder') {
      const path = await writeToFolder(route.folder, {
        id: typeof message['message-id'] === 'string' ? message['message-id'] : undefined,
        envelope: message.envelope ?? '',
        recipient: message.recipient,
        mime: await this.#sign(message, mime),
      });
      return { state: 'message', result: 'accepted', code: 250, status: '2.0.0', description: `written to ${path}` };
    }
    let source: string;
    try {
      const usable = await sources.usable(message);
      const family = route.hosts[0]?.addresses[0]?.includes(':') ? 6 : 4;
      source = sources.pick(usable, family) ?? sources.pick(usable)!;
    } catch (err) {
      if (err instanceof BindError) return localFailure('bind', err, false);
      throw err;
    }
    const scope = { source, pool: typeof message.pool === 'string' ? message.pool : undefined, domain: route.domain, destination: route.destination };
    if (budgets && !(await budgets.takeMessage(scope))) throw new OverCapacity(`message rate budget for ${route.destination} used up`);
    const dsn = message.dsn;
    return pool.send({
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
      message: await this.#sign(message, mime),
    });
  }

  /** Publishes everything the attempt's decision calls for; resolves once the broker confirmed it all. */
  async #conclude(message: OutgoingMessage, entry: ResultEntry, log: Logger): Promise<void> {
    const now = new Date();
    const decision = decide(message, entry, now, this.#config);
    const config = this.#config;
    const publishes: Array<Promise<void>> = [];
    let event: DsnEvent;
    if (decision.kind === 'retry') {
      event = 'delay';
      const copy = retryCopy(message, entry, decision.nextAttempt);
      for (const queue of targets(message, 'retry', config)) publishes.push(this.#publish(queue, copy, message));
      publishes.push(this.#delay(retryDocument(message, entry, decision.nextAttempt), decision.delaySeconds));
    } else {
      event = decision.kind === 'success' ? 'success' : 'failure';
      const document = resultDocument(message, entry);
      for (const queue of targets(message, event, config)) publishes.push(this.#publish(queue, document, message));
    }
    const dsnQueue = resolveQueue(message, 'dsn', config);
    const bounce = dsnQueue ? buildDsn(message, entry, event, config, { now, messageId: this.#dsnId() }) : undefined;
    if (bounce && dsnQueue) publishes.push(this.#publish(dsnQueue, bounce, bounce));
    await Promise.all(publishes);
    log.info(
      { attempt: (message.results?.length ?? 0) + 1, state: entry.state, result: entry.result, code: entry.code, outcome: decision.kind },
      'delivery attempt',
    );
  }

  /** Back to the outbox after `seconds`, through a TTL queue that dead-letters into it (§7.4). */
  async #delay(document: OutgoingMessage, seconds: number): Promise<void> {
    const config = this.#config;
    const queue = delayQueue(config['rabbitmq-outbox'], delayBucket(seconds, config), config);
    await this.#deps.declarer.ensure(queue.name, queue.arguments, queue.redeclareWithinMs);
    await this.#publish(queue.name, document, document);
  }

  /** Not yet due (or over budget): wait in a delay queue; parking adds no result entry. */
  async #park(message: OutgoingMessage, seconds: number): Promise<void> {
    await this.#delay(message, seconds);
  }

  #publish(queue: string, document: object, source: OutgoingMessage): Promise<void> {
    const { body, contentEncoding } = encodeMessage(document, { gzip: this.#config['rabbitmq-encoding'] === 'gzip' });
    const priority = publishPriority(source, this.#config);
    return this.#deps.publisher.publish(queue, body, {
      ...(contentEncoding ? { contentEncoding } : {}),
      ...(priority !== undefined ? { priority } : {}),
    });
  }

  /** §7.1 step 1: unusable input is acked and published as `{invalid, results}` to the failure queues. */
  async #invalid(raw: Buffer, reason: string): Promise<void> {
    const entry = resultEntry({ state: 'process', result: 'invalid', description: reason }, new Date());
    const document = { invalid: raw.toString('utf8'), results: [entry] };
    this.#log.error({ reason }, 'unusable message on the outbox');
    const queues = targets({}, 'failure', this.#config);
    await Promise.all(queues.map((queue) => this.#publish(queue, document, {} as OutgoingMessage)));
  }

  async #sign(message: OutgoingMessage, mime: Buffer): Promise<Buffer> {
    return this.#deps.dkim.sign(message, mime);
  }
}

/** The bytes to send; a store `key` or a "responsive" object cannot be sent by this build (§4). */
function mimeOf(message: OutgoingMessage): Buffer | AttemptOutcome {
  if (typeof message.mime === 'string') return Buffer.from(message.mime, message['mime-encoding'] === 'latin1' ? 'latin1' : 'utf8');
  if (message.mime !== undefined) return { state: 'responsive', result: 'error', description: 'responsive (object) mime is not supported', fatal: true };
  return { state: 'storage', result: 'error', description: `no message store configured to load key ${String(message.key)}`, fatal: true };
}

function localFailure(state: 'dns' | 'bind', err: DnsError | BindError, transient: boolean): AttemptOutcome {
  return {
    state,
    result: 'error',
    code: err.responseCode,
    status: err.status,
    description: err.message,
    ...(transient ? {} : { fatal: true }),
  };
}

