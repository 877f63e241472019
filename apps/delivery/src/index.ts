export { Delivery, pauseParkQueue, type DeliveryDeps } from './delivery.js';
export { delayBuckets } from './outcome/delay-queues.js';
export { startDelivery, type RunningDelivery } from './run.js';
export type { DeliveryMetrics } from './metrics.js';
export { listCluster, ClusterUnreachable, type Announcement } from './cluster/index.js';
