import { connect } from 'amqplib';
import { decodeMessage } from '@mtaq/envelope';

/**
 * Looks at up to `count` messages of a queue without consuming them: they are taken unacked and
 * returned to the queue (redelivered flag set), so an operator can inspect the inbox safely.
 */
export async function peekQueue(url: string, queue: string, count: number): Promise<unknown[]> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
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
