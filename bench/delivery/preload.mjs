// Publishes N outbox messages (1000-byte MIME) with publisher confirms, then exits.
//   node bench/delivery/preload.mjs QUEUE N [DOMAIN]
import { connect } from 'amqplib';

const [queue, countText, domain = 'bench.test'] = process.argv.slice(2);
const count = Number(countText);
const connection = await connect(process.env.MTAQ_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1/');
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
const filler = 'X'.repeat(76);
for (let i = 0; i < count; i++) {
  const head = `From: <bench@example.com>\r\nTo: <r${i}@${domain}>\r\nSubject: bench ${i}\r\nMessage-ID: <${i}.bench@example.com>\r\n\r\n`;
  let body = '';
  while (head.length + body.length < 1000) body += `${filler}\r\n`;
  const json = { 'message-id': `bench-${Date.now().toString(36)}-${i}`, envelope: 'bench@example.com', recipient: `r${i}@${domain}`, mime: head + body };
  channel.sendToQueue(queue, Buffer.from(JSON.stringify(json)), { persistent: true, contentType: 'application/json' });
  if (i % 500 === 499) await channel.waitForConfirms();
}
await channel.waitForConfirms();
await connection.close();
