import { Redis } from 'ioredis';
import type { Config } from '@mtaq/config';
import { Budgets } from '@mtaq/limits';
import type { Logger } from '@mtaq/log';
import { AdaptivePrefetch, connectFromConfig, Consumer, deadLetterQueue, QueueDeclarer, type MessageHandler } from '@mtaq/queue';
import { RuleCache } from '@mtaq/rules';
import { Delivery, pauseParkQueue } from './delivery.js';
import { targets } from './outcome/index.js';
import { listenForClusterReloads } from './rules/cluster.js';
import { ClusterNode } from './cluster/node.js';
import { onPauseLifted, releaseParked } from './rules/release.js';
import { rulesFrom } from './rules/view.js';
import type { DeliveryMetrics } from './metrics.js';
import { DkimSigner } from './dkim.js';
import { createResolver, Router, SourceIps } from './routing/index.js';
import { Claims } from './claims/index.js';
import { LocalCapGate } from './transport/local-gate.js';
import { UpstreamPool } from './transport/pool.js';

export interface RunningDelivery {
  /**
   * Graceful stop, over by {@link SHUTDOWN_MS} in every state: no new messages and no new
   * transactions at once; transactions in flight may finish; at {@link ABORT_UNSENT_MS} those that
   * have not sent their final dot are cut (their messages are redelivered later), those waiting for
   * the final reply keep their claim and go on until the deadline.
   */
  stop(): Promise<void>;
  /** Readiness: consuming from the outbox. */
  ready(): boolean;
  /** For /metrics: upstream connections open and connection budget slots held by this process. */
  stats(): { connectionsOut: number; budgetSlots: number };
}

/** Seconds a message waits for a connection slot before it is parked instead. */
const MAX_SLOT_WAIT = 30;
/** After SIGTERM: transactions that have not sent their final dot by then are aborted. */
export const ABORT_UNSENT_MS = 25_000;
/** After SIGTERM: the AMQP channel closes by then, whatever is still running. */
export const SHUTDOWN_MS = 29_000;

export async function startDelivery(config: Config, logger: Logger, options: { metrics?: DeliveryMetrics | undefined } = {}): Promise<RunningDelivery> {
  const { broker, publisher } = await connectFromConfig(config, logger, 'delivery');
  const budgets = new Budgets({
    redisUrl: config['redis-address'],
    rules: config['delivery-limits'],
    processes: config['delivery-processes'],
    logger,
  });
  // a short command timeout: a hung Redis must cost a message a moment, not a second (Claims' breaker).
  // No auto-pipelining: Claims already gathers the takes and records of one loop iteration into one
  // script call, so ioredis' own pipeline per turn only added its cost (delivery1 CPU 1,071 → 999 µs/msg).
  const redis = config['redis-address']
    ? new Redis(config['redis-address'], {
        connectionName: 'mtaq-claims',
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 1000,
        commandTimeout: 300,
      })
    : undefined;
  redis?.on('error', () => undefined); // Claims logs the failures that matter
  if (!redis) {
    logger.warn(
      'redis-address is empty: claims are kept in this process only. A broker redelivery to this process is still never sent twice, but after a crash of this process a message whose final dot was sent may be sent again by another',
    );
  }
  const claims = new Claims({ redis, logger });
  // redeliveries arrive first after a restart: have Redis ready to check them rather than park them all
  if (redis) await claims.ready(5000);
  const pool = new UpstreamPool({
    timeouts: {
      connect: config['delivery-connect-timeout'],
      greeting: config['delivery-greeting-timeout'],
      socket: config['delivery-socket-timeout'],
    },
    idleTimeout: config['delivery-idle-timeout'],
    maxMessages: config['delivery-max-messages'],
    gate: new LocalCapGate(config['smtp-connections-out'], { tryTake: (scope) => budgets.tryAcquireConnection(scope) }, config['smtp-connections']),
    maxWait: MAX_SLOT_WAIT,
    logger,
  });
  // §7.10 rule database: loaded before the first message is consumed, reloaded every database-ttl
  // seconds (a failed reload keeps the last good rules). Empty database-address: no rules, as before.
  const rules = config['database-address'].trim() === '' ? undefined : RuleCache.fromConfig(config, logger).start();
  const view = rules ? rulesFrom(rules) : undefined;
  const resolver = createResolver(config);
  const declarer = new QueueDeclarer(broker, { exchange: config['rabbitmq-exchange'], durable: config['rabbitmq-durable'] });
  const sources = new SourceIps(config, resolver, view ? { tablePools: () => view.current().pools } : {});
  // §9: one cluster link for rule reloads and announcements; placement forwards mail to the node owning its IPs
  const cluster = new ClusterNode(config, sources, logger, redis).start();
  const stopListening = rules ? listenForClusterReloads(cluster.link, rules, logger) : undefined;
  const delivery = new Delivery({
    config,
    logger,
    publisher,
    declarer,
    router: new Router(config, resolver),
    sources,
    placement: cluster.placement,
    pool,
    budgets,
    claims,
    dkim: DkimSigner.fromConfig(config, logger, view ? () => view.current().dkim : undefined),
    ...(view ? { rules: view } : {}),
    metrics: options.metrics,
  });
  const metrics = options.metrics;
  const handler: MessageHandler = (m, context) => {
    if (!metrics) return delivery.handle(m, context);
    const started = performance.now();
    return delivery.handle(m, context).finally(() => metrics.handled((performance.now() - started) / 1000));
  };
  // the shared outbox and this node's own queue, one handler
  const consumer = await cluster.consumeWith(new Consumer(broker, { queue: config['rabbitmq-outbox'], prefetch: config['rabbitmq-qos'], logger }, handler), broker, declarer, handler, logger);
  // Quorum: what the outbox dead-letters past its delivery limit is concluded into the failure queue.
  // Without a failure (or results) queue it stays in the dead-letter queue for the operator.
  const dead = deadLetterQueue(config['rabbitmq-outbox']);
  const deadLetters =
    config['rabbitmq-quorum'] && targets({}, 'failure', config).length > 0
      ? new Consumer(broker, { queue: dead, prefetch: 10, logger }, (m) => delivery.deadLettered(m))
      : undefined;
  if (config['rabbitmq-quorum'] && !deadLetters) logger.warn({ queue: dead }, 'no failure or results queue: messages past the outbox delivery limit stay in its dead-letter queue');
  // C50: a lifted pause releases its parked messages at once, not after their park time
  rules?.onChange(
    onPauseLifted(async () => {
      const connection = broker.connection;
      if (!connection) throw new Error('not connected to the broker');
      return releaseParked(connection, pauseParkQueue(config['rabbitmq-outbox']), config['rabbitmq-exchange'], config['rabbitmq-outbox']);
    }, logger.child({ component: 'rules' })),
  );
  if (rules && !rules.isReady()) {
    logger.warn({ database: rules.store?.dialect }, 'waiting for the rule database before consuming the outbox');
    await rules.ready();
  }
  // rabbitmq-minqos: the prefetch is reduced while prefetched messages wait here for a connection
  // (classic queues; a quorum queue's channel refuses the channel-wide limit it takes, see config check)
  const prefetch = new AdaptivePrefetch(config['rabbitmq-quorum'] ? [] : consumer.parts, {
    max: config['rabbitmq-qos'],
    min: config['rabbitmq-minqos'],
    waiting: () => pool.waiting,
    logger,
  });
  await cluster.settle();
  await prefetch.start(); // the consumers start at the floor and grow while their window is full
  await consumer.start();
  await deadLetters?.start();
  logger.info({ queue: config['rabbitmq-outbox'], method: config['delivery-method'] }, 'delivering');
  return {
    ready: () => consumer.consuming,
    stats: () => ({ connectionsOut: pool.openConnections, budgetSlots: budgets.stats().leases }),
    async stop() {
      const started = Date.now();
      delivery.stopStarting();
      prefetch.stop();
      await cluster.stop();
      await consumer.cancel();
      if (!(await consumer.drained(started + ABORT_UNSENT_MS))) {
        logger.warn({ inFlight: consumer.inFlight }, 'shutdown: aborting transactions that have not sent their final dot');
        delivery.abortUnsent();
        if (!(await consumer.drained(started + SHUTDOWN_MS))) {
          logger.warn({ inFlight: consumer.inFlight }, 'shutdown: closing with transactions still waiting for a reply; their claims expire and the broker redelivers them');
        }
      }
      await consumer.close();
      await deadLetters?.stop(5000);
      pool.close();
      await claims.close();
      stopListening?.();
      await rules?.close();
      await budgets.close();
      await publisher.close();
      await broker.close();
      redis?.disconnect();
    },
  };
}
