// Publishes N outbox messages (1000-byte MIME) with publisher confirms, then exits.
//   node bench/delivery/preload.mjs QUEUE N [DOMAIN]
// SIZE=bytes for another size; SIZE=mix for issue 13's mix: of every 20 messages 14 of 5 KB,
// 5 of 50 KB and 1 of 1 MB (70 % / 25 % / 5 %).
import { connect } from 'amqplib';

const [queue, countText, domain = 'bench.test'] = process.argv.slice(2);
const count = Number(countText);
const connection = await connect(process.env.MTAQ_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1/');
const channel = await connection.createConfirmChannel();
await channel.assertQueue(queue, { durable: true });
const filler = 'X'.repeat(76);
const MIX = [...Array(14).fill(5000), ...Array(5).fill(50000), 1000000];
const sizeOf = (i) => (process.env.SIZE === 'mix' ? MIX[(i * 7) % 20] : Number(process.env.SIZE ?? 1000));
for (let i = 0; i < count; i++) {
  const head = `From: <bench@example.com>\r\nTo: <r${i}@${domain}>\r\nSubject: bench ${i}\r\nMessage-ID: <${i}.bench@example.com>\r\n\r\n`;
  const body = `${filler}\r\n`.repeat(Math.max(1, Math.ceil((sizeOf(i) - head.length) / 78)));
  const json = { 'message-id': `bench-${Date.now().toString(36)}-${i}`, envelope: 'bench@example.com', recipient: `r${i}@${domain}`, mime: head + body };
  channel.sendToQueue(queue, Buffer.from(JSON.stringify(json)), { persistent: true, contentType: 'application/json' });
  if (i % 500 === 499) await channel.waitForConfirms();
}
await channel.waitForConfirms();
await connection.close();
