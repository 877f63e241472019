export { Broker, BrokerLoginError, redactUrl, type BrokerOptions } from './broker.js';
export { Publisher, type PublisherOptions, type PublishOptions } from './publisher.js';
export { Consumer, type ConsumerOptions, type DeliveryContext, type Disposition, type MessageHandler } from './consumer.js';
export { declareTopology, queueArguments, topologyFromConfig, QUEUE_KEYS, type TopologyOptions } from './topology.js';
export { peekQueue } from './peek.js';
export { QueueDeclarer } from './declarer.js';
export { connectFromConfig } from './from-config.js';
export { delayQueueFor, MIN_DELAY_QUEUE_EXPIRES_MS, type DelayQueue } from './delay.js';
