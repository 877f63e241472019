import { connect } from 'amqplib';
import { decodeMessage } from '@mtaq/envelope';

/** An operator waiting at a prompt should hear about an unreachable broker in seconds, not minutes. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Looks at up to `count` messages of a queue without consuming them: they are taken unacked and
 * returned to the queue (redelivered flag set), so an operator can inspect the inbox safely.
 * Failures (broker unreachable, login refused, no such queue) reject with amqplib's error.
 */
export async function peekQueue(url: string, queue: string, count: number): Promise<unknown[]> {
  const connection = await connect(url, { timeout: CONNECT_TIMEOUT_MS });
  // A missing queue closes the channel; the failed get() already rejects with that error, and
  // without these listeners the same error would also be thrown as an unhandled 'error' event.
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    const seen: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const message = await channel.get(queue, { noAck: false });
      if (!message) break;
      seen.push(decodeMessage(message.content, message.properties.contentEncoding as string | undefined));
    }
    // closing the channel hands every unacked message back to the queue, in order
    await channel.close();
    return seen;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
