import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { describe, test } from 'node:test';
import { parseProxyHeader, ProxyProtocolError, readProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH, type ProxyHeader } from '../src/index.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 header: signature, ver/cmd byte, family/protocol byte, 16-bit length, block. */
function v2(verCmd: number, famProto: number, block: Buffer | number[] = [], length?: number): Buffer {
  const body = Buffer.from(block);
  const fixed = Buffer.alloc(4);
  fixed[0] = verCmd;
  fixed[1] = famProto;
  fixed.writeUInt16BE(length ?? body.length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

function inet4(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports]);
}

function inet6(src: string, dst: string, sport: number, dport: number): Buffer {
  const bytes = (address: string): Buffer => {
    // expand :: so every address here can be written compactly
    const [head = '', tail = ''] = address.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  };
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([bytes(src), bytes(dst), ports]);
}

function tlv(type: number, value: Buffer | string): Buffer {
  const v = Buffer.from(value);
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(v.length, 1);
  return Buffer.concat([head, v]);
}

const LONGEST_TCP6 = 'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';

const VALID: Array<[string, Buffer, ProxyHeader]> = [
  [
    'v1 TCP4 (C11)',
    Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 40000 25\r\n'),
    { version: 1, command: 'PROXY', source: { address: '203.0.113.9', port: 40000 }, destination: { address: '10.0.0.1', port: 25 } },
  ],
  [
    'v1 TCP6',
    Buffer.from('PROXY TCP6 2001:DB8:0::1 2001:db8::2 65535 0\r\n'),
    { version: 1, command: 'PROXY', source: { address: '2001:db8::1', port: 65535 }, destination: { address: '2001:db8::2', port: 0 } },
  ],
  [
    'v1 TCP6 with IPv4-mapped addresses',
    Buffer.from('PROXY TCP6 ::ffff:192.0.2.7 ::1 53122 25\r\n'),
    { version: 1, command: 'PROXY', source: { address: '192.0.2.7', port: 53122 }, destination: { address: '::1', port: 25 } },
  ],
  [
    'v1 longest TCP6 line (104 bytes)',
    Buffer.from(LONGEST_TCP6),
    {
      version: 1,
      command: 'PROXY',
      source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
      destination: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 },
    },
  ],
  ['v1 UNKNOWN short form', Buffer.from('PROXY UNKNOWN\r\n'), { version: 1, command: 'PROXY' }],
  ['v1 UNKNOWN long form (rest ignored)', Buffer.from('PROXY UNKNOWN ffff::1 ffff::2 65535 65535\r\n'), { version: 1, command: 'PROXY' }],
  ['v1 UNKNOWN of exactly 107 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 16)}\r\n`), { version: 1, command: 'PROXY' }],
  [
    'v2 PROXY TCP4',
    v2(0x21, 0x11, inet4([203, 0, 113, 9], [10, 0, 0, 1], 40000, 25)),
    { version: 2, command: 'PROXY', source: { address: '203.0.113.9', port: 40000 }, destination: { address: '10.0.0.1', port: 25 } },
  ],
  [
    'v2 PROXY TCP6',
    v2(0x21, 0x21, inet6('2001:db8::1', '2001:db8::2', 1, 2)),
    { version: 2, command: 'PROXY', source: { address: '2001:db8::1', port: 1 }, destination: { address: '2001:db8::2', port: 2 } },
  ],
  [
    'v2 PROXY TCP6 with IPv4-mapped addresses',
    v2(0x21, 0x21, inet6('::ffff:c000:207', '::ffff:a00:5', 53122, 25)),
    { version: 2, command: 'PROXY', source: { address: '192.0.2.7', port: 53122 }, destination: { address: '10.0.0.5', port: 25 } },
  ],
  [
    'v2 PROXY TCP4 with TLVs (ALPN, authority, NOOP padding) skipped',
    v2(0x21, 0x11, Buffer.concat([inet4([192, 0, 2, 1], [192, 0, 2, 2], 3, 4), tlv(0x01, 'smtp'), tlv(0x02, 'mx.example'), tlv(0x04, Buffer.alloc(5)), tlv(0x04, '')])),
    { version: 2, command: 'PROXY', source: { address: '192.0.2.1', port: 3 }, destination: { address: '192.0.2.2', port: 4 } },
  ],
  ['v2 LOCAL without addresses', v2(0x20, 0x00), { version: 2, command: 'LOCAL' }],
  ['v2 LOCAL with an address block (ignored)', v2(0x20, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 9, 10)), { version: 2, command: 'LOCAL' }],
  ['v2 LOCAL with junk in the block (ignored)', v2(0x20, 0x00, [1, 2, 3]), { version: 2, command: 'LOCAL' }],
  ['v2 PROXY AF_UNSPEC (addresses unknown)', v2(0x21, 0x00), { version: 2, command: 'PROXY' }],
];

const INVALID: Array<[string, Buffer, ProxyProtocolError['code']]> = [
  ['SMTP instead of a header', Buffer.from('EHLO client.example\r\n'), 'MALFORMED'],
  ['HTTP instead of a header', Buffer.from('GET / HTTP/1.1\r\n'), 'MALFORMED'],
  ['lower-case proxy', Buffer.from('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['PROXY without a space', Buffer.from('PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 bare LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), 'MALFORMED'],
  ['v1 bare CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rEHLO\r\n'), 'MALFORMED'],
  ['v1 NUL byte', Buffer.from('PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 non-ASCII byte', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\xe9\r\n', 'latin1'), 'MALFORMED'],
  ['v1 tab instead of space', Buffer.from('PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 family TCP5', Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 lower-case family', Buffer.from('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 missing port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), 'MALFORMED'],
  ['v1 extra field', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'), 'MALFORMED'],
  ['v1 trailing space', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), 'MALFORMED'],
  ['v1 double space', Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 no family', Buffer.from('PROXY \r\n'), 'MALFORMED'],
  ['v1 octet over 255', Buffer.from('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 IPv6 under TCP4', Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n'), 'MALFORMED'],
  ['v1 IPv4 under TCP6', Buffer.from('PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 hostname', Buffer.from('PROXY TCP4 client.example 5.6.7.8 1 2\r\n'), 'MALFORMED'],
  ['v1 IPv6 zone id', Buffer.from('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), 'MALFORMED'],
  ['v1 port 65536', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), 'MALFORMED'],
  ['v1 port with a leading zero', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 025 2\r\n'), 'MALFORMED'],
  ['v1 negative port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n'), 'MALFORMED'],
  ['v1 port with letters', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1a 2\r\n'), 'MALFORMED'],
  ['v1 line of 108 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 15)}\r\n`), 'OVERSIZED'],
  ['v1 without CRLF in 107 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(200)}`), 'OVERSIZED'],
  ['v2 signature with a wrong byte', Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540b', 'hex'), Buffer.alloc(8)]), 'MALFORMED'],
  ['v2 signature cut to CRLF CRLF then SMTP', Buffer.from('\r\n\r\nEHLO x\r\n'), 'MALFORMED'],
  ['v2 version 1', v2(0x11, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'UNSUPPORTED'],
  ['v2 version 3', v2(0x31, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'UNSUPPORTED'],
  ['v2 command 2', v2(0x22, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'UNSUPPORTED'],
  ['v2 family 4', v2(0x21, 0x41, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'MALFORMED'],
  ['v2 protocol 3', v2(0x21, 0x13, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'MALFORMED'],
  ['v2 UDP over IPv4', v2(0x21, 0x12, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'UNSUPPORTED'],
  ['v2 UDP over IPv6', v2(0x21, 0x22, inet6('::1', '::2', 1, 2)), 'UNSUPPORTED'],
  ['v2 UNIX stream', v2(0x21, 0x31, Buffer.alloc(216)), 'UNSUPPORTED'],
  ['v2 INET with unspecified protocol', v2(0x21, 0x10, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'UNSUPPORTED'],
  ['v2 TCP4 block of 11 bytes', v2(0x21, 0x11, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).subarray(0, 11)), 'MALFORMED'],
  ['v2 TCP6 with an IPv4-sized block', v2(0x21, 0x21, inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'MALFORMED'],
  ['v2 TLV longer than the block', v2(0x21, 0x11, Buffer.concat([inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), tlv(0x01, 'smtp').subarray(0, 5)])), 'MALFORMED'],
  ['v2 TLV header cut short', v2(0x21, 0x11, Buffer.concat([inet4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2), Buffer.from([0x04, 0x00])])), 'MALFORMED'],
  ['v2 length over the limit', v2(0x21, 0x11, [], V2_MAX_LENGTH - 15), 'OVERSIZED'],
  ['v2 length 65535', v2(0x21, 0x11, [], 0xffff), 'OVERSIZED'],
];

function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProxyProtocolError, `typed error, got ${String(err)}`);
    return err.code;
  }
  return 'no error';
}

describe('parseProxyHeader', () => {
  for (const [name, bytes, expected] of VALID) {
    test(`parses ${name}`, () => {
      assert.deepEqual(parseProxyHeader(bytes), { header: expected, length: bytes.length });
    });
    test(`${name}: every proper prefix is incomplete, not an error`, () => {
      for (let k = 0; k < bytes.length; k++) assert.equal(parseProxyHeader(bytes.subarray(0, k)), null, `prefix of ${k} bytes`);
    });
    test(`${name}: bytes after the header are left alone`, () => {
      const after = Buffer.from('EHLO client.example\r\n\r\n\0\xff', 'latin1');
      assert.deepEqual(parseProxyHeader(Buffer.concat([bytes, after])), { header: expected, length: bytes.length });
    });
  }

  for (const [name, bytes, code] of INVALID) {
    test(`refuses ${name} (${code})`, () => {
      assert.equal(errorCode(() => parseProxyHeader(bytes)), code);
      // and with more bytes behind it the verdict is the same
      assert.equal(errorCode(() => parseProxyHeader(Buffer.concat([bytes, Buffer.from('\r\nQUIT\r\n')]))), code);
    });
  }

  test('garbage is refused at its first byte, without waiting for more', () => {
    for (const first of ['E', 'G', '\0', '\n', ' ', 'p', '\x16']) {
      assert.equal(errorCode(() => parseProxyHeader(Buffer.from(first, 'latin1'))), 'MALFORMED', JSON.stringify(first));
    }
    assert.equal(errorCode(() => parseProxyHeader(Buffer.from('PROXX'))), 'MALFORMED');
    assert.equal(errorCode(() => parseProxyHeader(Buffer.from('\r\n\r\n\0\r\nQUIX'))), 'MALFORMED');
    // a TLS ClientHello on a port that expects PROXY
    assert.equal(errorCode(() => parseProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))), 'MALFORMED');
  });

  test('v2 bad version, command or family is refused before the block arrives', () => {
    assert.equal(errorCode(() => parseProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x11])]))), 'UNSUPPORTED');
    assert.equal(errorCode(() => parseProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x2f])]))), 'UNSUPPORTED');
    assert.equal(errorCode(() => parseProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x55])]))), 'MALFORMED');
    assert.equal(errorCode(() => parseProxyHeader(v2(0x21, 0x11, [], 0xffff).subarray(0, 16))), 'OVERSIZED');
  });

  test('the v1 limit is 107 bytes including CRLF', () => {
    assert.equal(LONGEST_TCP6.length, 104);
    assert.equal(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(91)}\r`)), null, '106 bytes ending in CR: its LF may come');
    assert.equal(errorCode(() => parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}\r`))), 'OVERSIZED');
    assert.equal(errorCode(() => parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(93)}`))), 'OVERSIZED');
  });
});

/** A connected pair: `client` (ours to write) and the server side's accepted socket. */
async function pair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port, host: '127.0.0.1', noDelay: true });
  client.on('error', () => undefined);
  await once(client, 'connect');
  const [server] = await accepted;
  return {
    client,
    server,
    close: async () => {
      client.destroy();
      server.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
}

/** Everything the socket yields from now until the peer ends it. */
async function rest(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ProxyProtocolError, `typed error, got ${String(err)}`);
    return err.code;
  }
  return 'resolved';
}

describe('readProxyHeader on real sockets', () => {
  const payload = Buffer.from('EHLO client.example\r\nMAIL FROM:<a@example.com>\r\n\x16\x03\x01', 'latin1');

  for (const [name, bytes, expected] of VALID.filter(([n]) => ['v1 TCP4 (C11)', 'v1 TCP6', 'v2 PROXY TCP4', 'v2 PROXY TCP6', 'v2 LOCAL without addresses'].includes(n))) {
    test(`${name} and the stream after it in one segment: stream preserved byte for byte`, async () => {
      const { client, server, close } = await pair();
      const header = readProxyHeader(server, { timeoutMs: 2000 });
      client.end(Buffer.concat([bytes, payload]));
      assert.deepEqual(await header, expected);
      assert.deepEqual(await rest(server), payload);
      await close();
    });

    test(`${name} split into one-byte TCP segments, then the stream`, async () => {
      const { client, server, close } = await pair();
      const header = readProxyHeader(server, { timeoutMs: 5000 });
      for (const byte of bytes) {
        client.write(Buffer.from([byte]));
        await tick(1);
      }
      client.end(payload);
      assert.deepEqual(await header, expected);
      assert.deepEqual(await rest(server), payload);
      await close();
    });
  }

  test('truncated at every byte offset: TRUNCATED when the client ends, for v1 and v2', async () => {
    const headers = [Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.1 40000 25\r\n'), v2(0x21, 0x11, inet4([203, 0, 113, 9], [10, 0, 0, 1], 40000, 25))];
    for (const bytes of headers) {
      for (let k = 0; k < bytes.length; k++) {
        const { client, server, close } = await pair();
        const header = readProxyHeader(server, { timeoutMs: 2000 });
        client.end(bytes.subarray(0, k));
        assert.equal(await rejection(header), 'TRUNCATED', `after ${k} bytes`);
        await close();
      }
    }
  });

  test('a client that resets the connection mid-header: TRUNCATED, no crash', async () => {
    const { client, server, close } = await pair();
    const header = readProxyHeader(server, { timeoutMs: 2000 });
    client.write('PROXY TCP4 1.2.');
    await tick(20);
    client.resetAndDestroy();
    assert.equal(await rejection(header), 'TRUNCATED');
    await close();
  });

  test('a header that never completes: TIMEOUT', async () => {
    const { client, server, close } = await pair();
    const started = Date.now();
    const header = readProxyHeader(server, { timeoutMs: 80 });
    client.write('PROXY TCP4 1.2.3.4 ');
    assert.equal(await rejection(header), 'TIMEOUT');
    assert.ok(Date.now() - started >= 70);
    await close();
  });

  test('garbage is refused as soon as it arrives, not at the timeout', async () => {
    const { client, server, close } = await pair();
    const started = Date.now();
    const header = readProxyHeader(server, { timeoutMs: 5000 });
    client.write('EHLO client.example\r\n');
    assert.equal(await rejection(header), 'MALFORMED');
    assert.ok(Date.now() - started < 1000);
    await close();
  });

  test('an oversized v1 line is refused at byte 107 even without a line end', async () => {
    const { client, server, close } = await pair();
    const header = readProxyHeader(server, { timeoutMs: 5000 });
    client.write(`PROXY UNKNOWN ${'x'.repeat(300)}`);
    assert.equal(await rejection(header), 'OVERSIZED');
    await close();
  });

  test('a socket that is already gone: TRUNCATED', async () => {
    const { server, close } = await pair();
    server.destroy();
    assert.equal(await rejection(readProxyHeader(server, { timeoutMs: 1000 })), 'TRUNCATED');
    await close();
  });
});
