import type { Config } from '@mtaq/config';
import { encodeMessage, readHeaderFields, type SmtpIncomingMessage } from '@mtaq/envelope';
import { PublishError } from '@mtaq/errors';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';

export interface PublishOptions {
  readonly config: Config;
  readonly publisher: Publisher;
  /** Local Address recipients may go to `rabbitmq-local` / `rabbitmq-reports`. */
  readonly isLocal: (address: string) => boolean;
  /** The session's logger. */
  readonly log: Logger;
}

/** DSNs, MDNs and DMARC/TLS reports (RFC 6522 multipart/report) at the top level. */
const REPORT_TYPE = /^multipart\/report\b/i;

/**
 * Reference §3 routing: a Local Address recipient goes to `rabbitmq-reports` when the message is a
 * report and that queue is set, else to `rabbitmq-local` when set; everything else to the inbox.
 * An empty queue name means "accept and drop" (C18).
 */
function queueFor(message: SmtpIncomingMessage, isReport: () => boolean, options: PublishOptions): string {
  const config = options.config;
  if (options.isLocal(message.recipient)) {
    if (config['rabbitmq-reports'] && isReport()) return config['rabbitmq-reports'];
    if (config['rabbitmq-local']) return config['rabbitmq-local'];
  }
  return config['rabbitmq-inbox'];
}

/**
 * Publishes every document on its queue and resolves once the broker confirmed them all; rejects
 * with a PublishError (451 4.3.0, the client retries) if any one failed, naming in the log which
 * were confirmed before (the retry makes duplicates of those, never losses).
 */
export async function publishDocuments(documents: SmtpIncomingMessage[], body: Buffer, options: PublishOptions): Promise<void> {
  const { config, log } = options;
  let report: boolean | undefined;
  const isReport = (): boolean =>
    (report ??= readHeaderFields(body).some((f) => f.name === 'content-type' && REPORT_TYPE.test(f.value)));
  const targets = documents.map((m) => ({ message: m, queue: queueFor(m, isReport, options) })).filter((t) => t.queue !== '');
  const gzip = config['rabbitmq-encoding'] === 'gzip';
  const withPriority = (config['rabbitmq-maxpriority'] ?? 0) > 0;
  const results = await Promise.allSettled(
    targets.map(({ message, queue }) => {
      const { body, contentEncoding } = encodeMessage(message, { gzip });
      const priority = withPriority && typeof message['priority'] === 'number' ? message['priority'] : undefined;
      return options.publisher.publish(queue, body, {
        messageId: message['message-id'],
        ...(contentEncoding ? { contentEncoding } : {}),
        ...(priority !== undefined ? { priority } : {}),
      });
    }),
  );
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ mid: targets[i]!.message['message-id'], err: r.reason as Error }] : []));
  if (failed.length === 0) return;
  const confirmed = targets.filter((_, i) => results[i]!.status === 'fulfilled').map((t) => t.message['message-id']);
  // the client retries the whole message, so confirmed copies become duplicates: say which
  log.error(
    { failed: failed.map((f) => f.mid), confirmed, err: failed[0]!.err.message },
    confirmed.length ? 'partially published, client told to retry' : 'publish failed, client told to retry',
  );
  throw failed[0]!.err instanceof PublishError ? failed[0]!.err : new PublishError(failed[0]!.err.message);
}
