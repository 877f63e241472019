import { randomBytes } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type GetMessage } from 'amqplib';

export const AMQP_URL = process.env['MTAQ_TEST_AMQP'] ?? 'amqp://guest:guest@127.0.0.1/';

/** Queue names of a test's own, so parallel or earlier runs never interfere. */
export function uniqueName(prefix: string): string {
  return `mtaq-test-${prefix}-${randomBytes(4).toString('hex')}`;
}

export class TestBroker {
  private constructor(
    readonly connection: ChannelModel,
    readonly channel: Channel,
  ) {}

  static async open(): Promise<TestBroker> {
    const connection = await connect(AMQP_URL);
    const channel = await connection.createChannel();
    return new TestBroker(connection, channel);
  }

  /** Waits until `count` messages could be taken from the queue, or the timeout passes. */
  async take(queue: string, count: number, timeoutMs = 5000): Promise<GetMessage[]> {
    const got: GetMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (got.length < count && Date.now() < deadline) {
      const message = await this.channel.get(queue, { noAck: true });
      if (message) got.push(message);
      else await new Promise((r) => setTimeout(r, 20));
    }
    return got;
  }

  /** Messages of a queue parsed as JSON. */
  async takeJson(queue: string, count: number, timeoutMs = 5000): Promise<Array<Record<string, unknown>>> {
    return (await this.take(queue, count, timeoutMs)).map((m) => JSON.parse(m.content.toString()) as Record<string, unknown>);
  }

  /** Publishes a JSON document (persistent) straight to a queue, as a producer or worker would. */
  async publishJson(queue: string, document: object): Promise<void> {
    this.channel.sendToQueue(queue, Buffer.from(JSON.stringify(document)), { persistent: true, contentType: 'application/json' });
  }

  async count(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /**
   * Deletes the queues, and for each the node queue (`<outbox>.node.1`) a delivery with the
   * default server-id declares beside the outbox it consumes (§9); a test with another
   * server-id names its node queue itself. Deleting a queue that does not exist is no error.
   */
  async deleteQueues(...queues: string[]): Promise<void> {
    for (const q of queues) {
      await this.channel.deleteQueue(q).catch(() => undefined);
      if (!/\.node\.\d+$/.test(q)) await this.channel.deleteQueue(`${q}.node.1`).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}
