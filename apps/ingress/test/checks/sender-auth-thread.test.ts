import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type DnsServer } from '../../../../test/helpers/dns-server.js';
// the build, not the sources: a worker thread cannot load TypeScript (npm test builds first)
import { SenderAuthThread } from '../../dist/checks/sender-auth-thread.js';

let dns: DnsServer;
before(async () => {
  dns = await startDnsServer({ zones: ['test'], txt: [{ name: 'x.test', text: 'v=spf1 ip4:192.0.2.7 -all' }] });
});
after(() => dns.stop());

const facts = { ip: '192.0.2.7', helo: 'client.x.test', sender: 'a@x.test', hostname: 'mx.test' };
const message = Buffer.from('From: <a@x.test>\r\nSubject: s\r\n\r\nbody\r\n');

test('the checks run in the thread, concurrently, with its own DNS cache, on copied or shared messages; close() refuses further work', async () => {
  const thread = new SenderAuthThread({ checks: ['spf', 'dkim'], resolver: { 'dns-servers': [dns.server], 'dns-timeout': 1, 'dns-attempts': 1 }, minTtl: 60 });
  const shared = Buffer.from(new SharedArrayBuffer(message.length));
  message.copy(shared);
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => thread.run(i % 2 ? shared : message, facts, Date.now() + 5000)));
  for (const outcome of outcomes) assert.deepEqual(outcome.entries, [{ spf: 'pass', 'smtp.mailfrom': 'a@x.test' }, { dkim: 'none' }]);
  await thread.close();
  await assert.rejects(thread.run(message, facts, Date.now() + 5000), /shut down/);
});

test('a thread that dies fails the messages it held, and the next message gets a new one', async () => {
  const thread = new SenderAuthThread({ checks: ['spf'], resolver: { 'dns-servers': [dns.server], 'dns-timeout': 1, 'dns-attempts': 1 }, minTtl: 60 });
  await thread.run(message, facts, Date.now() + 5000);
  // waits for a DNS answer (y.test is not cached) while the next request kills the thread
  const held = thread.run(message, { ...facts, sender: 'b@y.test' }, Date.now() + 5000);
  const poison = thread.run(undefined as unknown as Buffer, facts, Date.now() + 5000);
  // the thread's own error fails what it held (its 'exit' that follows finds nothing left)
  await assert.rejects(held, /Cannot read properties of undefined/);
  await assert.rejects(poison, /Cannot read properties of undefined/);
  const again = await thread.run(message, facts, Date.now() + 5000);
  assert.deepEqual(again.entries, [{ spf: 'pass', 'smtp.mailfrom': 'a@x.test' }]);
  await thread.close();
});

test('a message whose budget ran out while it waited is not checked at all', async () => {
  const thread = new SenderAuthThread({ checks: ['spf'], resolver: { 'dns-servers': [dns.server], 'dns-timeout': 1, 'dns-attempts': 1 }, minTtl: 60 });
  await assert.rejects(thread.run(message, facts, Date.now() - 1), /not started within smtp-check-timeout/);
  await thread.close();
});
