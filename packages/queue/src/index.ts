export { Broker, BrokerLoginError, redactUrl, type BrokerOptions } from './broker.js';
export { Publisher, type PublisherOptions, type PublishOptions } from './publisher.js';
export { Linger } from './linger.js';
export { AdaptivePrefetch, type AdaptivePrefetchOptions, type PrefetchTarget } from './adaptive-prefetch.js';
export { Consumer, type ConsumerOptions, type DeliveryContext, type Disposition, type MessageHandler } from './consumer.js';
export {
  declareTopology,
  deadLetterQueue,
  mismatchError,
  queueArguments,
  topologyFromConfig,
  QueueMismatchError,
  QUEUE_KEYS,
  QUORUM_DELIVERY_LIMIT,
  AT_LEAST_ONCE_DEAD_LETTERING,
  type TopologyOptions,
} from './topology.js';
export { peekQueue } from './peek.js';
export { QueueDeclarer } from './declarer.js';
export { connectFromConfig } from './from-config.js';
export { delayQueueFor, MIN_DELAY_QUEUE_EXPIRES_MS, type DelayQueue } from './delay.js';
