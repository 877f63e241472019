import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { Broker, redactUrl } from './broker.js';
import { Publisher } from './publisher.js';
import { declareTopology, topologyFromConfig } from './topology.js';

/**
 * The broker connection and confirm publisher every mtaq process starts with, from the `rabbitmq-*`
 * keys: topology declared on each (re)connect when `rabbitmq-declare` is on. Resolves once the first
 * connection attempt is over (a broker that is down is retried in the background).
 */
export async function connectFromConfig(config: Config, logger: Logger, role: string): Promise<{ broker: Broker; publisher: Publisher }> {
  const topology = topologyFromConfig(config);
  const broker = new Broker({
    urls: config['rabbitmq-address'],
    logger,
    reconnectDelay: config['rabbitmq-reconnect-delay'],
    connectionName: `mtaq ${role} ${process.pid}`,
    setup: config['rabbitmq-declare'] ? (connection) => declareTopology(connection, topology) : undefined,
  });
  logger.info({ broker: config['rabbitmq-address'].map(redactUrl) }, `starting ${role}`);
  if (!config['rabbitmq-persistent'] && !config['rabbitmq-quorum']) {
    // MailerQ's default, kept for compatibility; but then queued mail does not survive a broker restart
    logger.warn('rabbitmq-persistent is false: queued mail is lost if RabbitMQ restarts before it is consumed');
  }
  await broker.start();
  const publisher = new Publisher(broker, {
    exchange: config['rabbitmq-exchange'],
    persistent: config['rabbitmq-persistent'],
    maxInFlight: config['rabbitmq-throttle'],
    timeout: config['rabbitmq-publish-timeout'],
    logger,
  });
  return { broker, publisher };
}
