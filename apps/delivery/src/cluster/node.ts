import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { Consumer, queueArguments, type Broker, type MessageHandler, type QueueDeclarer } from '@mtaq/queue';
import type { SourceIps } from '../routing/source-ip.js';
import { Announcer } from './announce.js';
import { ClusterLink } from './link.js';
import { nodeQueue, ownedIps } from './ownership.js';
import { Placement } from './placement.js';
import { NodeMemory } from './memory.js';
import type { Redis } from 'ioredis';

export type ClusterNodeConfig = Pick<
  Config,
  | 'cluster-address'
  | 'cluster-exchange'
  | 'cluster-verify'
  | 'cluster-timeout'
  | 'server-id'
  | 'rabbitmq-outbox'
  | 'rabbitmq-qos'
  | 'rabbitmq-quorum'
  | 'rabbitmq-lazy'
  | 'rabbitmq-maxpriority'
  | 'smtp-default-ips'
  | 'ip-pools'
  | 'www-ip'
  | 'www-port'
>;

/** The consumer interface run.ts stops with (both queues at once). */
export interface Consuming {
  readonly consuming: boolean;
  readonly inFlight: number;
  /** The consumers themselves (the shared outbox, this node's queue): their prefetch is governed. */
  readonly parts: readonly Consumer[];
  start(): Promise<void>;
  cancel(): Promise<void>;
  drained(deadline: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * This delivery process as a member of the cluster (§9): its link to the cluster exchange (shared
 * with rule reloads), its announcements and table of peers, where each message may leave from, and
 * its own queue `<outbox>.node.<server-id>` for mail that must leave from its IPs.
 */
export class ClusterNode {
  readonly link: ClusterLink;
  readonly announcer: Announcer;
  readonly placement: Placement;
  readonly queue: string;
  readonly #config: ClusterNodeConfig;

  /** `redis`: where the cluster remembers its nodes (see NodeMemory); undefined = only what is heard. */
  constructor(config: ClusterNodeConfig, sources: SourceIps, logger: Logger, redis?: Redis) {
    this.#config = config;
    const owned: ReadonlySet<string> = new Set(ownedIps(config));
    this.queue = nodeQueue(config);
    this.link = new ClusterLink(config, logger);
    this.announcer = new Announcer(this.link, config, () => owned, logger, redis ? new NodeMemory(redis, config['cluster-exchange']) : undefined);
    this.placement = new Placement(sources, this.announcer.membership, () => owned);
  }

  /** Connects and starts announcing; the table fills as answers arrive (see {@link settle}). */
  start(): this {
    this.link.start();
    this.announcer.start();
    return this;
  }

  /** Waits (at most `cluster-timeout`) for the other nodes to answer our hello. */
  settle(): Promise<void> {
    return this.announcer.settle();
  }

  /**
   * Declares this node's queue (durable like the outbox, with the same arguments) and returns one
   * consumer for it and `outbox` together, with the same handler.
   */
  async consumeWith(outbox: Consumer, broker: Broker, declarer: QueueDeclarer, handler: MessageHandler, logger: Logger): Promise<Consuming> {
    const config = this.#config;
    const args = queueArguments({ quorum: config['rabbitmq-quorum'], lazy: config['rabbitmq-lazy'], maxPriority: config['rabbitmq-maxpriority'] ?? 0 });
    // declared on every (re)connection before its consumer subscribes (listeners run in order);
    // durable, so it normally exists already and mail forwarded here while we were away is kept
    const declare = (): Promise<void> =>
      declarer.ensure(this.queue, args).catch((err: Error) => logger.warn({ queue: this.queue, err: err.message }, 'cannot declare this node\'s queue yet'));
    broker.on('connected', () => void declare());
    if (broker.connection) await declare();
    const own = new Consumer(broker, { queue: this.queue, prefetch: config['rabbitmq-qos'], logger }, handler);
    return both(outbox, own);
  }

  /** Says goodbye (peers stop forwarding here at once) and closes the cluster link. */
  async stop(): Promise<void> {
    this.announcer.stop();
    await this.link.stop();
  }
}

function both(a: Consumer, b: Consumer): Consuming {
  return {
    parts: [a, b],
    get consuming() {
      return a.consuming && b.consuming;
    },
    get inFlight() {
      return a.inFlight + b.inFlight;
    },
    start: async () => {
      await a.start();
      await b.start();
    },
    cancel: async () => {
      await Promise.all([a.cancel(), b.cancel()]);
    },
    drained: async (deadline) => (await Promise.all([a.drained(deadline), b.drained(deadline)])).every(Boolean),
    close: async () => {
      await Promise.all([a.close(), b.close()]);
    },
  };
}
