import { Redis } from 'ioredis';
import type { Config } from '@mtaq/config';
import { Budgets } from '@mtaq/limits';
import type { Logger } from '@mtaq/log';
import { connectFromConfig, Consumer, QueueDeclarer } from '@mtaq/queue';
import { Delivery } from './delivery.js';
import { DkimSigner } from './dkim.js';
import { createResolver, Router, SourceIps } from './routing/index.js';
import { SentMarkers } from './sent-markers.js';
import { LocalCapGate } from './transport/local-gate.js';
import { UpstreamPool } from './transport/pool.js';

export interface RunningDelivery {
  /** Graceful stop: no new messages, in-flight deliveries finish and are acked, connections close. */
  stop(): Promise<void>;
}

/** Seconds a message waits for a connection slot before it is parked instead. */
const MAX_SLOT_WAIT = 30;

export async function startDelivery(config: Config, logger: Logger): Promise<RunningDelivery> {
  const { broker, publisher } = await connectFromConfig(config, logger, 'delivery');
  const budgets = new Budgets({
    redisUrl: config['redis-address'],
    rules: config['delivery-limits'],
    processes: config['delivery-processes'],
    logger,
  });
  const redis = config['redis-address']
    ? new Redis(config['redis-address'], { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 1000, commandTimeout: 1000, lazyConnect: false })
    : undefined;
  redis?.on('error', () => undefined); // SentMarkers logs the failures that matter
  const pool = new UpstreamPool({
    timeouts: {
      connect: config['delivery-connect-timeout'],
      greeting: config['delivery-greeting-timeout'],
      socket: config['delivery-socket-timeout'],
    },
    idleTimeout: config['delivery-idle-timeout'],
    maxMessages: config['delivery-max-messages'],
    gate: new LocalCapGate(config['smtp-connections-out'], { tryTake: (scope) => budgets.tryAcquireConnection(scope) }),
    maxWait: MAX_SLOT_WAIT,
    logger,
  });
  const resolver = createResolver(config);
  const delivery = new Delivery({
    config,
    logger,
    publisher,
    declarer: new QueueDeclarer(broker, { exchange: config['rabbitmq-exchange'], durable: config['rabbitmq-durable'] }),
    router: new Router(config, resolver),
    sources: new SourceIps(config, resolver),
    pool,
    budgets,
    markers: new SentMarkers(redis, { logger }),
    dkim: DkimSigner.fromConfig(config),
  });
  const consumer = new Consumer(broker, { queue: config['rabbitmq-outbox'], prefetch: config['rabbitmq-qos'], logger }, (m) =>
    delivery.handle(m),
  );
  await consumer.start();
  logger.info({ queue: config['rabbitmq-outbox'], method: config['delivery-method'] }, 'delivering');
  return {
    async stop() {
      await consumer.stop();
      pool.close();
      await budgets.close();
      await publisher.close();
      await broker.close();
      redis?.disconnect();
    },
  };
}
