/**
 * REST routes of the two rule tables added last — flood patterns (§7.9) and DKIM keys (§4) — and a
 * `www-token` file re-read on SIGHUP. One real `mtaq delivery` process with its HTTP server, a real
 * SQLite rule database and real RabbitMQ (a change is announced on a cluster exchange of its own).
 */

import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { storeFromAddress } from '@mtaq/rules';
import { AMQP_URL, TestBroker, uniqueName } from './helpers/amqp.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, type MtaqProcess } from './helpers/process.js';
import { http } from './helpers/www.js';

const TOKEN = 'extra-token-3b7d1e';
const NEW_TOKEN = 'extra-token-rotated-91c4';
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('REST /v1/floods and /v1/dkimkeys; www-token file re-read on SIGHUP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-www-extra-'));
  const outbox = uniqueName('www-extra-outbox');
  const exchange = uniqueName('www-extra-cluster');
  const tokenFile = join(dir, 'tokens');
  const database = `sqlite://${join(dir, 'rules.sqlite')}`;
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let www: number;

  before(async () => {
    broker = await TestBroker.open();
    writeFileSync(tokenFile, `# REST clients\n${TOKEN}\n`);
    www = await freePort();
    const config = join(dir, 'mtaq.conf');
    writeFileSync(
      config,
      [
        `rabbitmq-address: ${AMQP_URL}`,
        `rabbitmq-outbox: ${outbox}`,
        `rabbitmq-inbox: ${outbox}`,
        'redis-address:',
        'www-ip: 127.0.0.1',
        `www-port: ${www}`,
        `www-token: file://${tokenFile}`,
        `database-address: ${database}`,
        `cluster-exchange: ${exchange}`,
        'delivery-method: folder',
        `delivery-folder: ${join(dir, 'delivered')}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('delivery', ['--config-file', config]);
  });

  after(async () => {
    await mtaq?.stop();
    await broker.deleteQueues(outbox, `${outbox}.node.1`); // the outbox and this node's own queue (server-id 1, §9)
    await broker.channel.deleteExchange(exchange).catch(() => undefined);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('/v1/floods: create (JSON and form), list, delete; bad bodies name the field; exclusive fields; no token → 401', async () => {
    const created = await http(www, 'POST', '/v1/floods', {
      token: TOKEN,
      json: { domain: 'Flood.Example.', pattern: '421 *too many*', match: 'fnmatch', pauseSeconds: 60, reducedSeconds: 300, connections: 1, messagesPerMinute: 10 },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(typeof created.body.id, 'number');
    assert.equal(created.body.domain, 'flood.example', 'stored normalised');
    assert.equal(created.body.match, 'wildcard', 'fnmatch is the wildcard match');
    assert.equal(created.body.pauseSeconds, 60);
    assert.equal(created.body.messagesPerMinute, 10);
    const form = await http(www, 'POST', '/v1/floods', { token: TOKEN, form: { pattern: 'rate limit', pool: 'bulk', pauseSeconds: '30' } });
    assert.equal(form.status, 201, form.text);
    assert.equal(form.body.pauseSeconds, 30);
    assert.equal(form.body.match, 'substring', 'default match type');

    const listed = await http(www, 'GET', '/v1/floods', { token: TOKEN });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.map((r: { id: number }) => r.id).sort(), [created.body.id, form.body.id].sort());

    for (const [body, field] of [
      [{ domain: 'x.example' }, 'body.pattern'],
      [{ pattern: 'x', pauseSeconds: -1 }, 'body.pauseSeconds'],
      [{ pattern: 'x', connections: 'many' }, 'body.connections'],
      [{ pattern: 'x', match: 'glob' }, 'body.match'],
      [{ pattern: '(', match: 'regex' }, 'body.pattern'],
      [{ pattern: 'x', colour: 'red' }, 'body.colour'],
      [{ pattern: 'x', domain: 'x.example', ip: '192.0.2.1' }, 'body.ip'],
      [{ pattern: 'x', pool: 'bulk', mta: '192.0.2.2' }, 'body.mta'],
      [{ pattern: 'x', mta: 'not-an-ip' }, 'body.mta'],
    ] as const) {
      const refused = await http(www, 'POST', '/v1/floods', { token: TOKEN, json: body });
      assert.equal(refused.status, 400, `${JSON.stringify(body)}: ${refused.text}`);
      assert.equal(refused.body.field, field, JSON.stringify(body));
    }

    for (const token of [undefined, 'wrong']) {
      const auth = token === undefined ? {} : { token };
      assert.equal((await http(www, 'GET', '/v1/floods', auth)).status, 401);
      assert.equal((await http(www, 'POST', '/v1/floods', { ...auth, json: { pattern: 'x' } })).status, 401);
      assert.equal((await http(www, 'DELETE', `/v1/floods/${created.body.id}`, auth)).status, 401);
    }

    assert.equal((await http(www, 'DELETE', `/v1/floods/${created.body.id}`, { token: TOKEN })).status, 200);
    assert.equal((await http(www, 'DELETE', `/v1/floods/${created.body.id}`, { token: TOKEN })).status, 404);
    assert.deepEqual((await http(www, 'GET', '/v1/floods', { token: TOKEN })).body.map((r: { id: number }) => r.id), [form.body.id]);
    assert.equal((await http(www, 'DELETE', `/v1/floods/${form.body.id}`, { token: TOKEN })).status, 200);
  });

  test('/v1/dkimkeys: the private key goes in, only its public half comes out; a key that does not parse → 400 body.key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const secret = pem.split('\n')[2]!; // a line of the private key's base64, to look for in answers
    const created = await http(www, 'POST', '/v1/dkimkeys', { token: TOKEN, json: { domain: 'Signed.Example', selector: 'mtaq2026', key: pem, headers: ['from', 'subject'] } });
    assert.equal(created.status, 201, created.text);
    assert.equal(typeof created.body.id, 'number');
    assert.equal(created.body.domain, 'signed.example');
    assert.equal(created.body.selector, 'mtaq2026');
    assert.equal(created.body.key, undefined, 'the private key is not answered');
    assert.equal(created.body.publicKey, spki.toString('base64'));
    assert.equal(created.body.record, `v=DKIM1; k=rsa; p=${spki.toString('base64')}`);
    assert.equal(created.body.fingerprint, `SHA256:${createHash('sha256').update(spki).digest('base64')}`);
    assert.ok(!created.text.includes('PRIVATE KEY') && !created.text.includes(secret));

    // an Ed25519 key in a form body: its p= is the 32 raw bytes (RFC 8463)
    const ed = generateKeyPairSync('ed25519');
    const edForm = await http(www, 'POST', '/v1/dkimkeys', { token: TOKEN, form: { domain: 'signed.example', selector: 'ed', key: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() } });
    assert.equal(edForm.status, 201, edForm.text);
    assert.equal(edForm.body.keyType, 'ed25519');
    assert.equal(Buffer.from(edForm.body.publicKey, 'base64').length, 32);

    const listed = await http(www, 'GET', '/v1/dkimkeys', { token: TOKEN });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.length, 2);
    assert.ok(!listed.text.includes('PRIVATE KEY') && !listed.text.includes(secret), 'GET never returns a private key');
    const rsa = listed.body.find((r: { selector: string }) => r.selector === 'mtaq2026');
    assert.deepEqual(
      { domain: rsa.domain, selector: rsa.selector, id: rsa.id, publicKey: rsa.publicKey, headers: rsa.headers },
      { domain: 'signed.example', selector: 'mtaq2026', id: created.body.id, publicKey: spki.toString('base64'), headers: ['from', 'subject'] },
    );
    assert.ok(createPublicKey({ key: Buffer.from(rsa.publicKey, 'base64'), format: 'der', type: 'spki' }).equals(publicKey));

    // the key is in the database as given: delivery signs with it
    const store = storeFromAddress(database)!;
    try {
      assert.equal((await store.get('dkimkeys', created.body.id))?.key, pem.trim());
    } finally {
      await store.close();
    }

    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const [body, field] of [
      [{ domain: 'signed.example', selector: 's', key: 'not a key' }, 'body.key'],
      [{ domain: 'signed.example', selector: 's', key: publicPem }, 'body.key'],
      [{ domain: 'signed.example', key: pem }, 'body.selector'],
      [{ domain: 'not a domain', selector: 's', key: pem }, 'body.domain'],
      [{ domain: 'signed.example', selector: 's', key: pem, canonicalization: 'loose' }, 'body.canonicalization'],
      [{ domain: 'signed.example', selector: 's', key: pem, bits: 2048 }, 'body.bits'],
    ] as const) {
      const refused = await http(www, 'POST', '/v1/dkimkeys', { token: TOKEN, json: body });
      assert.equal(refused.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${refused.text}`);
      assert.equal(refused.body.field, field, refused.text);
      assert.ok(!refused.text.includes(secret), 'a refusal does not echo the key');
    }
    const duplicate = await http(www, 'POST', '/v1/dkimkeys', { token: TOKEN, json: { domain: 'signed.example', selector: 'mtaq2026', key: pem } });
    assert.ok(duplicate.status === 400 || duplicate.status === 409, duplicate.text);

    for (const token of [undefined, 'wrong']) {
      const auth = token === undefined ? {} : { token };
      assert.equal((await http(www, 'GET', '/v1/dkimkeys', auth)).status, 401);
      assert.equal((await http(www, 'POST', '/v1/dkimkeys', { ...auth, json: { domain: 'a.example', selector: 's', key: pem } })).status, 401);
      assert.equal((await http(www, 'DELETE', `/v1/dkimkeys/${created.body.id}`, auth)).status, 401);
    }
    for (const id of [created.body.id, edForm.body.id]) assert.equal((await http(www, 'DELETE', `/v1/dkimkeys/${id}`, { token: TOKEN })).status, 200);
    assert.deepEqual((await http(www, 'GET', '/v1/dkimkeys', { token: TOKEN })).body, []);
  });

  test('www-token file: re-read on SIGHUP (a new token works, a removed one is refused); an empty file keeps the tokens in force', async () => {
    const status = async (token: string): Promise<number> => (await http(www, 'GET', '/v1/floods', { token })).status;
    const reread = async (msg: string): Promise<void> => {
      const seen = mtaq.logs.filter((l) => l['msg'] === msg).length;
      mtaq.child.kill('SIGHUP');
      for (let i = 0; mtaq.logs.filter((l) => l['msg'] === msg).length === seen; i++) {
        if (i > 100) throw new Error(`no "${msg}" log line after SIGHUP`);
        await wait(20);
      }
    };
    assert.equal(await status(TOKEN), 200);
    assert.equal(await status(NEW_TOKEN), 401);

    writeFileSync(tokenFile, `${NEW_TOKEN}\n`);
    assert.equal(await status(NEW_TOKEN), 401, 'not before the signal');
    await reread('www-token file re-read');
    assert.equal(await status(NEW_TOKEN), 200);
    assert.equal(await status(TOKEN), 401, 'the removed token is refused');

    writeFileSync(tokenFile, '# nothing yet\n');
    await reread('www-token file not re-read: the tokens in force are kept');
    assert.equal(await status(NEW_TOKEN), 200);
    rmSync(tokenFile);
    await reread('www-token file not re-read: the tokens in force are kept');
    assert.equal(await status(NEW_TOKEN), 200);
    assert.equal(mtaq.child.exitCode, null, 'SIGHUP does not stop the process');
  });
});
