import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { Haproxy } from './helpers/haproxy.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk, type Reply } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';
import { makeCertificate } from './helpers/tls.js';

/**
 * PROXY protocol in front of the ingress (reference §8.1 step 2, C11, C12). The "load balancer"
 * is 127.0.0.7: raw tests bind their socket there, HAProxy connects from there (`source`).
 * Everything else connects from 127.0.0.1, which is not in smtp-proxy.
 */
const LB = '127.0.0.7';
const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2Header(command: 'PROXY' | 'LOCAL', block: Buffer, family: number): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = command === 'PROXY' ? 0x21 : 0x20;
  fixed[1] = family;
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block]);
}

function v2Tcp4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return v2Header('PROXY', Buffer.concat([Buffer.from(src), Buffer.from(dst), ports]), 0x11);
}

/** 2001:db8::<last> → 2001:db8::<last2>, TCP over IPv6. */
function v2Tcp6(last: number, last2: number, sport: number, dport: number): Buffer {
  const block = Buffer.alloc(36);
  for (const [offset, tail] of [[0, last], [16, last2]] as const) {
    block.writeUInt16BE(0x2001, offset);
    block.writeUInt16BE(0x0db8, offset + 2);
    block.writeUInt16BE(tail, offset + 14);
  }
  block.writeUInt16BE(sport, 32);
  block.writeUInt16BE(dport, 34);
  return v2Header('PROXY', block, 0x21);
}

type Doc = Record<string, unknown>;
const connectionOf = (doc: Doc | undefined): Record<string, unknown> => (doc?.['connection'] ?? {}) as Record<string, unknown>;

/** Connects from the load balancer's address and sends `header` (optionally with more bytes behind it). */
async function viaLb(port: number, header: Buffer | string): Promise<SmtpTalk> {
  const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: LB });
  smtp.write(header);
  return smtp;
}

/** Greeting, EHLO and one message; returns the DATA reply. */
async function mail(smtp: SmtpTalk, rcpt: string, subject: string): Promise<Reply> {
  const greeting = await smtp.read();
  assert.equal(greeting.code, 220, greeting.text);
  assert.equal((await smtp.command('EHLO client.example')).code, 250);
  const reply = await smtp.send('alice@example.com', [rcpt], `From: alice@example.com\r\nSubject: ${subject}\r\n\r\nbody\r\n`);
  await smtp.quit();
  return reply;
}

/** Walks a session as far as it gets; returns the first refusal (any 4xx/5xx, greeting included) or the DATA reply. */
async function tryRelay(smtp: SmtpTalk, rcpt: string): Promise<number> {
  try {
    const greeting = await smtp.read();
    if (greeting.code !== 220) return greeting.code;
    const ehlo = await smtp.command('EHLO client.example');
    if (ehlo.code !== 250) return ehlo.code;
    return (await smtp.send('alice@example.com', [rcpt], 'Subject: relay?\r\n\r\nx\r\n')).code;
  } finally {
    await smtp.quit();
  }
}

/** Resolves once the server closed the connection without having said anything. */
async function closedSilently(smtp: SmtpTalk, what: string): Promise<void> {
  await assert.rejects(smtp.read(3000), /connection closed; unparsed: ""/, `${what}: closed without a reply`);
}

describe('ingress behind PROXY protocol', () => {
  const inbox = uniqueName('proxy');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let haproxy: Haproxy | undefined;
  let port: number;
  let securePort: number;

  before(async () => {
    broker = await TestBroker.open();
    port = await freePort();
    securePort = await freePort();
    const { cert, key } = makeCertificate();
    const config = writeConfig(
      [
        `smtp-ip: 127.0.0.1`,
        `smtp-port: ${port}`,
        `smtp-secure-port: ${securePort}`,
        `smtp-hostname: mx.test.example`,
        `smtp-certificate: ${cert}`,
        `smtp-key: ${key}`,
        `smtp-proxy: ${LB}`,
        // every local client may relay, and so may the proxied test clients below
        `smtp-range: 127.0.0.0/8; 203.0.113.0/24; 2001:db8::/32`,
        `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-outbox: ${inbox}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
    haproxy = await Haproxy.start([
      { target: { host: '127.0.0.1', port }, proxy: 'v1', source: LB },
      { target: { host: '127.0.0.1', port }, proxy: 'v2', source: LB },
      { target: { host: '127.0.0.1', port: securePort }, proxy: 'v2', source: LB },
    ]);
  });

  after(async () => {
    await haproxy?.stop();
    if (mtaq) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('C11 v1 header: JSON connection and Received carry the proxied client', async () => {
    const smtp = await viaLb(port, 'PROXY TCP4 203.0.113.9 10.0.0.1 40000 25\r\n');
    assert.equal((await mail(smtp, 'c11@example.org', 'c11')).code, 250);
    const [doc] = await broker.takeJson(inbox, 1);
    const connection = connectionOf(doc);
    assert.equal(connection['remote-ip'], '203.0.113.9');
    assert.equal(connection['remote-port'], 40000);
    assert.equal(connection['local-ip'], '10.0.0.1');
    assert.equal(connection['local-port'], 25);
    assert.match(String(doc!['mime']), /^Received: from client\.example \(.*203\.0\.113\.9/);
  });

  test('v2 header over IPv6, pipelined with EHLO in the same segment', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: LB });
    smtp.write(Buffer.concat([v2Tcp6(9, 0x25, 40001, 2525), Buffer.from('EHLO client.example\r\n')]));
    assert.equal((await smtp.read()).code, 220);
    assert.equal((await smtp.read()).code, 250, 'EHLO sent behind the header was read');
    assert.equal((await smtp.send('alice@example.com', ['v2@example.org'], 'Subject: v2\r\n\r\nx\r\n')).code, 250);
    await smtp.quit();
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '2001:db8::9');
    assert.equal(connection['remote-port'], 40001);
    assert.equal(connection['local-ip'], '2001:db8::25');
    assert.equal(connection['local-port'], 2525);
  });

  test('v2 header split over several TCP segments', async () => {
    const header = v2Tcp4([203, 0, 113, 10], [192, 0, 2, 25], 40002, 25);
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: LB });
    for (const piece of [header.subarray(0, 5), header.subarray(5, 13), header.subarray(13, 20), header.subarray(20)]) {
      smtp.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await mail(smtp, 'split@example.org', 'split')).code, 250);
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '203.0.113.10');
    assert.equal(connection['local-ip'], '192.0.2.25');
  });

  test('v2 LOCAL and v1 UNKNOWN: the socket addresses are used', async () => {
    for (const header of [v2Header('LOCAL', Buffer.alloc(0), 0x00), Buffer.from('PROXY UNKNOWN\r\n')]) {
      const smtp = await viaLb(port, header);
      assert.equal((await mail(smtp, 'local@example.org', 'local')).code, 250);
      const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
      assert.equal(connection['remote-ip'], LB);
      assert.equal(connection['local-ip'], '127.0.0.1');
      assert.equal(connection['local-port'], port);
    }
  });

  test('C12 a peer outside smtp-proxy is never parsed: its PROXY line is an unknown command (500)', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' });
    assert.equal((await smtp.read()).code, 220, 'greeted without waiting for a header');
    const reply = await smtp.command('PROXY TCP4 203.0.113.9 10.0.0.1 40000 25');
    assert.equal(reply.code, 500);
    assert.match(reply.lines[0]!, /^500 5\.5\.2 /);
    assert.equal((await smtp.command('EHLO client.example')).code, 250);
    assert.equal((await smtp.send('alice@example.com', ['direct@example.org'], 'Subject: direct\r\n\r\nx\r\n')).code, 250);
    await smtp.quit();
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '127.0.0.1');
  });

  test('malformed, truncated or oversized headers close the connection silently; the server keeps serving', async () => {
    const bad: Array<[string, Buffer | string, boolean?]> = [
      ['SMTP instead of a header', 'EHLO client.example\r\n'],
      ['v1 with a bare LF', 'PROXY TCP4 203.0.113.9 10.0.0.1 40000 25\n'],
      ['v1 with a hostname', 'PROXY TCP4 client.example 10.0.0.1 40000 25\r\n'],
      ['v1 port out of range', 'PROXY TCP4 203.0.113.9 10.0.0.1 70000 25\r\n'],
      ['v1 over 107 bytes', `PROXY UNKNOWN ${'x'.repeat(200)}\r\n`],
      ['v2 version 1', Buffer.concat([SIGNATURE, Buffer.from([0x11, 0x11, 0x00, 0x0c]), Buffer.alloc(12)])],
      ['v2 UDP', Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x12, 0x00, 0x0c]), Buffer.alloc(12)])],
      ['v2 address block too short', Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x04]), Buffer.alloc(4)])],
      ['TLS ClientHello instead of a header', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00])],
      ['v1 truncated, then the client half-closes', 'PROXY TCP4 203.0.', true],
      ['v2 truncated, then the client half-closes', Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0x00, 0x0c, 1, 2])]), true],
    ];
    for (const [what, bytes, halfClose] of bad) {
      const smtp = await viaLb(port, bytes);
      if (halfClose) (smtp as unknown as { socket: { end(): void } }).socket.end();
      await closedSilently(smtp, what);
    }
    // still alive, still proxying
    const smtp = await viaLb(port, 'PROXY TCP4 203.0.113.11 10.0.0.1 40003 25\r\n');
    assert.equal((await mail(smtp, 'after@example.org', 'after garbage')).code, 250);
    assert.equal(connectionOf((await broker.takeJson(inbox, 1))[0])['remote-ip'], '203.0.113.11');
    assert.equal(mtaq.child.exitCode, null, 'ingress still running');
  });

  test('HAProxy send-proxy (v1): client 127.0.0.9 is the JSON remote-ip', async () => {
    const front = haproxy!.ports[0]!;
    const smtp = await SmtpTalk.connect(front, '127.0.0.1', { localAddress: '127.0.0.9' });
    assert.equal((await mail(smtp, 'haproxy-v1@example.org', 'haproxy v1')).code, 250);
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '127.0.0.9');
    assert.equal(typeof connection['remote-port'], 'number');
    // the local side is what the client connected to: HAProxy's frontend
    assert.equal(connection['local-ip'], '127.0.0.1');
    assert.equal(connection['local-port'], front);
    assert.equal(connection['secure'], false);
  });

  test('HAProxy send-proxy-v2: client 127.0.0.9 is the JSON remote-ip', async () => {
    const front = haproxy!.ports[1]!;
    const smtp = await SmtpTalk.connect(front, '127.0.0.1', { localAddress: '127.0.0.9' });
    assert.equal((await mail(smtp, 'haproxy-v2@example.org', 'haproxy v2')).code, 250);
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '127.0.0.9');
    assert.equal(connection['local-port'], front);
  });

  test('HAProxy send-proxy-v2 in front of the implicit-TLS port: header in clear, then TLS', async () => {
    const front = haproxy!.ports[2]!;
    const smtp = await SmtpTalk.connect(front, '127.0.0.1', { tls: true, localAddress: '127.0.0.9' });
    assert.equal((await mail(smtp, 'haproxy-tls@example.org', 'haproxy tls')).code, 250);
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '127.0.0.9');
    assert.equal(connection['local-port'], front);
    assert.equal(connection['secure'], true);
  });

  test('raw v1 header, then TLS in the same flight, on the implicit-TLS port', async () => {
    const raw = net.connect({ port: securePort, host: '127.0.0.1', localAddress: LB, noDelay: true });
    await once(raw, 'connect');
    raw.write('PROXY TCP4 203.0.113.12 10.0.0.1 40004 465\r\n');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    // SmtpTalk over a socket of our own (its constructor is private to keep normal tests on connect())
    const smtp = new (SmtpTalk as unknown as new (socket: tls.TLSSocket) => SmtpTalk)(secure);
    assert.equal((await mail(smtp, 'tls-raw@example.org', 'tls raw')).code, 250);
    const connection = connectionOf((await broker.takeJson(inbox, 1))[0]);
    assert.equal(connection['remote-ip'], '203.0.113.12');
    assert.equal(connection['local-port'], 465);
    assert.equal(connection['secure'], true);
  });

  test('a direct TLS client outside smtp-proxy is not asked for a header', async () => {
    const smtp = await SmtpTalk.connect(securePort, '127.0.0.1', { tls: true, localAddress: '127.0.0.1' });
    assert.equal((await mail(smtp, 'tls-direct@example.org', 'tls direct')).code, 250);
    assert.equal(connectionOf((await broker.takeJson(inbox, 1))[0])['remote-ip'], '127.0.0.1');
  });

  test('nothing unexpected was queued', async () => {
    assert.equal((await broker.take(inbox, 1, 300)).length, 0);
  });
});

describe('smtp-range is checked against the proxied address (C11)', () => {
  const inbox = uniqueName('proxy-range');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    port = await freePort();
    const config = writeConfig(
      [
        `smtp-ip: 127.0.0.1`,
        `smtp-port: ${port}`,
        `smtp-proxy: ${LB}`,
        `smtp-range: 203.0.113.0/24`,
        `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-outbox: ${inbox}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('proxied 203.0.113.9 may relay; direct 127.0.0.1 and proxied 198.51.100.1 may not', async () => {
    assert.equal(await tryRelay(await viaLb(port, 'PROXY TCP4 203.0.113.9 10.0.0.1 40000 25\r\n'), 'relay@example.org'), 250);
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal(connectionOf(doc)['remote-ip'], '203.0.113.9');

    const direct = await tryRelay(await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' }), 'relay@example.org');
    assert.ok(direct >= 400, `direct 127.0.0.1 refused (got ${direct})`);
    const outside = await tryRelay(await viaLb(port, 'PROXY TCP4 198.51.100.1 10.0.0.1 40000 25\r\n'), 'relay@example.org');
    assert.ok(outside >= 400, `proxied 198.51.100.1 refused (got ${outside})`);
    assert.equal((await broker.take(inbox, 1, 500)).length, 0, 'nothing queued from outside smtp-range');
  });
});
