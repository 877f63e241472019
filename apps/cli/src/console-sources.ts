import type { Config } from '@mtaq/config';
// the queue names only, not delivery itself (an ingress with www-port set serves this console too)
import { delayBuckets, pauseParkQueue } from '@mtaq/delivery/delay-queues';
import { delayQueueFor, QUEUE_KEYS } from '@mtaq/queue';
import type { ConsoleSources, QueueRef } from '@mtaq/www';

/**
 * What the console at `/` watches, learned from the config: the queues of QUEUE_KEYS that are set
 * (one row per name, so `rabbitmq-inbox` = `rabbitmq-outbox` is one row "inbox, outbox"), the
 * delay queues delivery may use (`<outbox>.delay.<s>` for every bucket: the standard delays plus
 * `retry-interval`) and its park queue for paused mail; the broker of `rabbitmq-address` and the
 * Redis of `redis-address`, where delivery keeps its connection leases.
 */
export function consoleSources(config: Config): ConsoleSources {
  const main: Array<{ label: string; name: string }> = [];
  for (const key of QUEUE_KEYS) {
    const name = config[key];
    if (!name) continue;
    const label = key.replace(/^rabbitmq-/, '');
    const seen = main.find((q) => q.name === name);
    if (seen) seen.label += `, ${label}`;
    else main.push({ label, name });
  }
  const outbox = config['rabbitmq-outbox'];
  const options = { exchange: config['rabbitmq-exchange'], quorum: config['rabbitmq-quorum'], lazy: config['rabbitmq-lazy'], maxPriority: config['rabbitmq-maxpriority'] ?? 0 };
  const waiting: QueueRef[] = outbox
    ? [
        ...delayBuckets(config).map((seconds) => ({ label: `delay ${seconds} s`, name: delayQueueFor(outbox, seconds, options).name })),
        { label: 'paused', name: pauseParkQueue(outbox) },
      ]
    : [];
  return { amqpUrls: config['rabbitmq-address'], queues: { main, waiting }, redisUrl: config['redis-address'] };
}
