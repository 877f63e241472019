import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import { SpamdClient, SpamdError, type SpamdErrorKind } from '../src/index.js';
import { startSpamd, type Spamd } from '../../../test/helpers/spamd.js';
import { freePort } from '../../../test/helpers/ports.js';

const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

function mail(headers: string[], body: string): Buffer {
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${body.replace(/\n/g, '\r\n')}`, 'latin1');
}

const baseHeaders = [
  // from loopback, which spamd trusts: ALL_TRUSTED scores -1.0, so the ham verdict is negative
  'Received: from [127.0.0.1] (localhost [127.0.0.1])\r\n\tby mx.example.test (mtaq) with ESMTP id 4f2a9c\r\n\tfor <bob@example.test>; Tue, 1 Dec 2026 07:00:00 +0000',
  'From: Alice <alice@example.test>',
  'To: Bob <bob@example.test>',
  'Message-ID: <20261201070000.4f2a9c@mx.example.test>',
  'Date: Tue, 1 Dec 2026 07:00:00 +0000',
  'MIME-Version: 1.0',
];

const ham = mail(
  [...baseHeaders, 'Subject: lunch tomorrow', 'Content-Type: text/plain; charset=us-ascii'],
  'Hi Bob,\n\nshall we have lunch tomorrow at noon?\n\nAlice\n',
);

function haveSpamc(): boolean {
  try {
    accessSync('/usr/bin/spamc', constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function rejectsWith(promise: Promise<unknown>, kind: SpamdErrorKind): Promise<SpamdError> {
  const error = await promise.then(
    () => assert.fail(`expected a SpamdError of kind ${kind}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof SpamdError, `not a SpamdError: ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  return error;
}

/** A TCP server that runs `onSocket` for each connection, and tells when each one closes. */
async function fakeServer(onSocket: (socket: net.Socket) => void, { allowHalfOpen = false } = {}) {
  const sockets = new Set<net.Socket>();
  const closed: Array<() => void> = [];
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    // read (and drop) the request: an unread socket never sees the client's FIN, so never closes
    socket.resume();
    socket.on('close', () => {
      sockets.delete(socket);
      closed.shift()?.();
    });
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    sockets,
    /** Resolves when the next connection closes. */
    nextClose: () => new Promise<void>((resolve) => closed.push(resolve)),
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let spamd: Spamd;
let client: SpamdClient;

before(async () => {
  spamd = await startSpamd();
  client = new SpamdClient({ host: spamd.host, port: spamd.port });
});

after(async () => {
  await spamd?.stop();
});

test('GTUBE is spam, with the GTUBE rule and a score at or above the required one', async () => {
  const verdict = await client.check(mail([...baseHeaders, 'Subject: gtube'], `${GTUBE}\n`), { timeoutMs: 10_000 });
  assert.equal(verdict.spam, true);
  assert.ok(verdict.score >= verdict.required, `${verdict.score} / ${verdict.required}`);
  // GTUBE's 1000 plus ALL_TRUSTED's -1.0 from the loopback Received line
  assert.equal(verdict.score, 999);
  assert.equal(verdict.required, 5);
  assert.ok(verdict.rules.includes('GTUBE'), verdict.rules.join(','));
});

test('ordinary ham is not spam, and its negative score is read as spamc reads it', async () => {
  const verdict = await client.check(ham, { timeoutMs: 10_000 });
  assert.equal(verdict.spam, false);
  assert.ok(Number.isFinite(verdict.score) && verdict.score < verdict.required);
  assert.ok(verdict.rules.includes('ALL_TRUSTED'), verdict.rules.join(','));
  assert.ok(verdict.score < 0, `ALL_TRUSTED makes it negative: ${verdict.score}`);
  if (haveSpamc()) {
    const spamc = (...args: string[]): string => {
      try {
        return execFileSync('/usr/bin/spamc', ['-d', spamd.host, '-p', String(spamd.port), ...args], { input: ham, encoding: 'latin1' });
      } catch (error) {
        // -c exits 1 for spam; ham exits 0, anything else is spamc failing
        throw new Error(`spamc ${args.join(' ')}: ${String(error)}`);
      }
    };
    assert.equal(spamc('-c').trim(), `${verdict.score.toFixed(1)}/${verdict.required.toFixed(1)}`);
    assert.deepEqual(spamc('-y').trim().split(','), verdict.rules);
  }
});

test('an 8-bit latin1 body (invalid UTF-8) goes out byte for byte, in several buffers', async () => {
  const headers = Buffer.from(
    `${[...baseHeaders, 'Subject: =?iso-8859-1?q?Gr=FC=DFe?=', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit'].join('\r\n')}\r\n\r\n`,
    'latin1',
  );
  const body = Buffer.from('Gr\xfc\xdfe aus M\xfcnchen, sch\xf6ne Gr\xfc\xdfe!\r\n'.repeat(50), 'latin1');
  assert.throws(() => new TextDecoder('utf-8', { fatal: true }).decode(body));
  const verdict = await client.check([headers, body], { timeoutMs: 10_000 });
  assert.equal(verdict.spam, false);
  assert.ok(Number.isFinite(verdict.score));
  // the same bytes as one buffer get the same verdict
  assert.deepEqual(await client.check(Buffer.concat([headers, body]), { timeoutMs: 10_000 }), verdict);
});

test('a closed port is a connect error, at once', async () => {
  const port = await freePort();
  const started = Date.now();
  await rejectsWith(new SpamdClient({ host: '127.0.0.1', port }).check(ham, { timeoutMs: 5000 }), 'connect');
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
});

test('a paused spamd is a timeout within timeoutMs, and spamd answers again once resumed', async () => {
  spamd.pause();
  try {
    const started = Date.now();
    await rejectsWith(client.check(ham, { timeoutMs: 1000 }), 'timeout');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950 && elapsed < 1500, `${elapsed} ms`);
  } finally {
    spamd.resume();
  }
  assert.equal((await client.check(ham, { timeoutMs: 10_000 })).spam, false);
});

test('on a timeout the connection is closed, not left open', async () => {
  // half-open: it reads the request and its FIN but never answers, like a hung spamd
  const silent = await fakeServer(() => {}, { allowHalfOpen: true });
  try {
    const closed = silent.nextClose();
    await rejectsWith(new SpamdClient({ host: '127.0.0.1', port: silent.port }).check(ham, { timeoutMs: 300 }), 'timeout');
    assert.equal(silent.sockets.size, 1);
    // A late answer to a socket the client destroyed is reset by its kernel, and the next write
    // fails (EPIPE): the server's socket closes. A socket left open would take the bytes.
    const answer = setInterval(() => {
      for (const socket of silent.sockets) socket.write('SPAMD/1.1 0 EX_OK\r\n');
    }, 50);
    try {
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error('the client kept its socket open')), 2000)),
      ]);
    } finally {
      clearInterval(answer);
    }
  } finally {
    await silent.close();
  }
});

test('a peer that answers garbage is a protocol error, without waiting for the timeout', async () => {
  const garbage = await fakeServer((socket) => socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  try {
    const closed = garbage.nextClose();
    const started = Date.now();
    await rejectsWith(new SpamdClient({ host: '127.0.0.1', port: garbage.port }).check(ham, { timeoutMs: 5000 }), 'protocol');
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
    await closed;
  } finally {
    await garbage.close();
  }
});

test("spamd's non-zero result is a protocol error carrying the code", async () => {
  const refusing = await fakeServer((socket) => socket.end('SPAMD/1.0 76 Bad header line: (Content-Length mismatch: Expected 10 bytes, got 9 bytes)\r\n'));
  try {
    const error = await rejectsWith(new SpamdClient({ host: '127.0.0.1', port: refusing.port }).check(ham, { timeoutMs: 5000 }), 'protocol');
    assert.equal(error.resultCode, 76);
    assert.match(error.message, /Bad header line/);
  } finally {
    await refusing.close();
  }
});

test('an abort signal stops the check at once, before or during it', async () => {
  await rejectsWith(client.check(ham, { timeoutMs: 5000, signal: AbortSignal.abort() }), 'aborted');
  spamd.pause();
  try {
    const controller = new AbortController();
    const started = Date.now();
    const check = client.check(ham, { timeoutMs: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await rejectsWith(check, 'aborted');
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
  } finally {
    spamd.resume();
  }
});
