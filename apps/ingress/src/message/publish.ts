import type { Config } from '@mtaq/config';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from '@mtaq/envelope';
import { PublishError } from '@mtaq/errors';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import type { IngressMetrics } from '../metrics.js';
import type { MimeJson } from './json-bytes.js';

/** A document with its id: what SMTP, the spool and `mtaq inject` publish. */
type Identified = IncomingMessage & { 'message-id': string };

export interface PublishOptions {
  readonly config: Config;
  readonly publisher: Publisher;
  /** Local Address recipients may go to `rabbitmq-local` / `rabbitmq-reports`. */
  readonly isLocal: (address: string) => boolean;
  /** The session's logger. */
  readonly log: Logger;
  /** Counts confirmed documents and the confirm latency (not for the refused queue). */
  readonly metrics?: IngressMetrics | undefined;
}

/**
 * Reference §3 routing: a Local Address recipient goes to `rabbitmq-reports` when the message is a
 * report and that queue is set, else to `rabbitmq-local` when set; everything else to the inbox.
 * An empty queue name means "accept and drop" (C18).
 */
function queueFor(message: Identified, report: boolean, options: PublishOptions): string {
  const config = options.config;
  if (options.isLocal(message.recipient)) {
    if (config['rabbitmq-reports'] && report) return config['rabbitmq-reports'];
    if (config['rabbitmq-local']) return config['rabbitmq-local'];
  }
  return config['rabbitmq-inbox'];
}

/**
 * Publishes every document on its queue and resolves once the broker confirmed them all; rejects
 * with a PublishError (451 4.3.0, the client retries) if any one failed, naming in the log which
 * were confirmed before (the retry makes duplicates of those, never losses).
 *
 * `queue` sends every copy there instead (the refused queue).
 *
 * Each copy is encoded only when the publisher has a slot for it (its byte window), so a message
 * to many recipients is never held as all its JSON copies at once.
 */
export async function publishDocuments(documents: Identified[], mime: MimeJson, report: boolean, options: PublishOptions, queue?: string): Promise<void> {
  const { config, log } = options;
  const targets = documents.map((m) => ({ message: m, queue: queue ?? queueFor(m, report, options) })).filter((t) => t.queue !== '');
  const gzip = config['rabbitmq-encoding'] === 'gzip';
  const withPriority = (config['rabbitmq-maxpriority'] ?? 0) > 0;
  const started = performance.now();
  const results = await Promise.allSettled(
    targets.map(({ message, queue }) => {
      const priority = withPriority && typeof message['priority'] === 'number' ? message['priority'] : undefined;
      const encode = (): Buffer => (gzip ? gzipSync(mime.encode(message)) : mime.encode(message));
      return options.publisher.publish(queue, encode, {
        messageId: message['message-id'],
        sizeHint: mime.size,
        ...(gzip ? { contentEncoding: 'gzip' } : {}),
        ...(priority !== undefined ? { priority } : {}),
      });
    }),
  );
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ mid: targets[i]!.message['message-id'], err: r.reason as Error }] : []));
  if (failed.length === 0) {
    if (queue === undefined) options.metrics?.published(targets.length, (performance.now() - started) / 1000);
    return;
  }
  const confirmed = targets.filter((_, i) => results[i]!.status === 'fulfilled').map((t) => t.message['message-id']);
  // the client retries the whole message, so confirmed copies become duplicates: say which
  log.error(
    { failed: failed.map((f) => f.mid), confirmed, err: failed[0]!.err.message },
    confirmed.length ? 'partially published, client told to retry' : 'publish failed, client told to retry',
  );
  throw failed[0]!.err instanceof PublishError ? failed[0]!.err : new PublishError(failed[0]!.err.message);
}
