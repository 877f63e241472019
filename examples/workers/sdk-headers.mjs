// An SDK program with its own loop: reads IN, edits the mail headers (the §4 `headers` property:
// delivery removes X-Internal and adds X-Processed-By when it sends the message) and forwards to
// OUT. Each input is acknowledged only after its forward was confirmed by RabbitMQ.
//
//   IN=inbox OUT=outbox MTAQ_URL=amqp://guest:guest@localhost/ node examples/workers/sdk-headers.mjs

import { connect } from '@mtaq/sdk';

const input = process.env.IN ?? 'inbox';
const output = process.env.OUT ?? 'outbox';
const mtaq = await connect({ url: process.env.MTAQ_URL ?? 'amqp://guest:guest@localhost/', declare: [output] });

await mtaq.consume(
  input,
  async (message, context) => {
    const headers = message.headers ?? {};
    message.headers = {
      ...headers,
      remove: [...[headers.remove ?? []].flat(), 'X-Internal'],
      append: { ...(headers.append ?? {}), 'X-Processed-By': 'sdk-headers' },
    };
    await context.publish(output, message);
  },
  { prefetch: 50, concurrency: 4 },
);
console.log(JSON.stringify({ msg: 'consuming', input, output }));

// SIGTERM: stop taking messages, finish those in flight, disconnect
process.once('SIGTERM', () => void mtaq.close().then(() => process.exit(0)));
