/**
 * @mtaq/sdk: read and write mtaq's queues from a Node program with its own loop — consume with
 * prefetch, concurrency and acks after confirmed forwards, publish with confirms (persistent,
 * gzip when asked), the queue arguments mtaq declares with, and the typed JSON documents.
 */

export {
  Client,
  connect,
  type ConnectOptions,
  type ConsumeContext,
  type ConsumeOptions,
  type Document,
  type Handler,
  type PublishDocumentOptions,
  type Subscription,
} from './client.js';
export { resultEntry, withResult } from './results.js';
export { delayQueueFor, queueArguments, type DelayQueue, type Disposition, type TopologyOptions } from '@mtaq/queue';
export { PublishError, UnroutableError, EnvelopeError } from '@mtaq/errors';
export { createLogger, type Logger } from '@mtaq/log';
// the documents (§3 incoming, §4 outgoing, §6 results), their validators and MIME helpers
export * from '@mtaq/envelope';
