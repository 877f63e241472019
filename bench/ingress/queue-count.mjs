// Queue helper for the benchmark: prints the message count of a queue.
//   --purge      empty it first        --delete   remove it
//   --wait N     poll until it holds at least N messages (exit 1 after 120 s)
import { connect } from 'amqplib';

const [queue, action, arg] = process.argv.slice(2);
const connection = await connect(process.env.MTAQ_BENCH_AMQP ?? 'amqp://guest:guest@127.0.0.1/');
const channel = await connection.createChannel();
let code = 0;
if (action === '--delete') await channel.deleteQueue(queue);
else {
  await channel.assertQueue(queue, { durable: true });
  if (action === '--purge') await channel.purgeQueue(queue);
  let count = (await channel.checkQueue(queue)).messageCount;
  if (action === '--wait') {
    const deadline = Date.now() + 120_000;
    while (count < Number(arg) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      count = (await channel.checkQueue(queue)).messageCount;
    }
    if (count < Number(arg)) code = 1;
  }
  console.log(count);
}
await connection.close();
process.exit(code);
