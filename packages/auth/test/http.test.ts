import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createAuthBackend } from '../src/index.js';
import { freeTcpPort, login } from './helpers.js';

const GOOD = `Basic ${Buffer.from('alice:s3cret:ü').toString('base64')}`;

test('C24: http:// sends Basic user:pass; 204 → ok, 401 → invalid, hanging → unavailable', async (t) => {
  const seen: { path: string; authorization: string | undefined; clientIp: string | undefined }[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    seen.push({ path: request.url ?? '', authorization: request.headers.authorization, clientIp: request.headers['x-client-ip'] as string | undefined });
    if (request.url === '/hang') return; // never answers
    if (request.url === '/broken') return void response.writeHead(500).end('oops');
    if (request.url === '/moved') return void response.writeHead(302, { location: '/check' }).end();
    response.writeHead(request.headers.authorization === GOOD ? 204 : 401).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const base = `http://127.0.0.1:${port}`;

  const backend = createAuthBackend(`${base}/check`, { timeout: 1 });
  assert.equal(backend.name, 'http');
  assert.equal(backend.plainSecrets, false);
  assert.deepEqual(await backend.authenticate(login('alice', 's3cret:ü', { remoteAddress: '192.0.2.9' })), { ok: true, user: 'alice' });
  assert.deepEqual(seen.at(-1), { path: '/check', authorization: GOOD, clientIp: '192.0.2.9' });
  assert.deepEqual(await backend.authenticate(login('alice', 'wrong')), { ok: false, reason: 'invalid', detail: 'HTTP 401' });
  assert.equal(seen.at(-1)?.authorization, `Basic ${Buffer.from('alice:wrong').toString('base64')}`);

  const sent = seen.length;
  assert.equal((await backend.authenticate(login('a:b', 's3cret'))).ok, false, 'a user name with ":" cannot be sent');
  assert.equal(seen.length, sent, 'and is not sent');

  const started = Date.now();
  const hanging = await createAuthBackend(`${base}/hang`, { timeout: 0.5 }).authenticate(login('alice', 's3cret:ü'));
  assert.equal(hanging.ok, false);
  assert.equal(!hanging.ok && hanging.reason, 'unavailable');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 450 && elapsed < 2000, `gave up after ${elapsed} ms`);

  const broken = await createAuthBackend(`${base}/broken`, { timeout: 1 }).authenticate(login('alice', 's3cret:ü'));
  assert.deepEqual(broken, { ok: false, reason: 'unavailable', detail: 'HTTP 500' });
  const moved = await createAuthBackend(`${base}/moved`, { timeout: 1 }).authenticate(login('alice', 's3cret:ü'));
  assert.deepEqual(moved, { ok: false, reason: 'invalid', detail: 'HTTP 302' }, 'redirects are not followed');
});

test('http:// to a port nobody listens on is unavailable', async () => {
  const port = await freeTcpPort();
  const result = await createAuthBackend(`http://127.0.0.1:${port}/check`, { timeout: 2 }).authenticate(login('alice', 'x'));
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.reason, 'unavailable');
  assert.match(!result.ok ? (result.detail ?? '') : '', /ECONNREFUSED/);
});

test('http:// URLs with credentials are refused at creation, masked', () => {
  assert.throws(() => createAuthBackend('https://svc:hidden@auth.test/check', { timeout: 1 }), (error: Error) => !error.message.includes('hidden'));
});
