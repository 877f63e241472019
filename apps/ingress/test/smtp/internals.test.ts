/**
 * The smtp-server internals mtaq overrides or reads. smtp-server is pinned to one exact version
 * (apps/ingress/package.json); when it is bumped, this file says whether what smtp/server.ts,
 * smtp/connection.ts and smtp/command-lines.ts rely on is still there and still behaves so:
 * underscore members and prototype methods (name and arity), the fields read, and one real
 * session through MtaqSMTPServer that needs each of them.
 */
import assert from 'node:assert/strict';
import { processConnections } from '@mtaq/limits';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CidrList } from '@mtaq/net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, socketTimeout } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { SmtpTalk } from '../../../../test/helpers/smtp.js';
import { StrictSMTPStream } from '../../src/smtp/command-lines.js';
import { MtaqConnection } from '../../src/smtp/connection.js';
import type { MtaqServerOptions } from '../../src/smtp/options.js';
import { libraryReplies, replies, replyText } from '../../src/smtp/replies.js';
import { MtaqSMTPServer } from '../../src/smtp/server.js';

const INGRESS = join(import.meta.dirname, '..', '..');

test('smtp-server is pinned to one exact version, and that version is the one installed', () => {
  const manifest = JSON.parse(readFileSync(join(INGRESS, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const pinned = manifest.dependencies['smtp-server'];
  assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, `apps/ingress/package.json pins smtp-server exactly (got ${pinned})`);
  const installed = createRequire(join(INGRESS, 'package.json'))('smtp-server/package.json') as { version: string };
  assert.equal(installed.version, pinned);
});

test('the prototype methods mtaq overrides or calls exist with the arity it was written against', () => {
  const expected: Array<[string, object, string, number]> = [
    // smtp/server.ts
    ['SMTPServer', SMTPServer.prototype, 'connect', 2],
    ['SMTPServer', SMTPServer.prototype, '_expectsProxyHeader', 1],
    ['SMTPServer', SMTPServer.prototype, '_handleProxy', 2],
    ['SMTPServer', SMTPServer.prototype, '_onError', 1],
    ['SMTPServer', SMTPServer.prototype, '_onClientConnect', 1],
    ['SMTPServer', SMTPServer.prototype, 'onData', 3],
    ['SMTPServer', SMTPServer.prototype, 'close', 1],
    // smtp/connection.ts
    ['SMTPConnection', SMTPConnection.prototype, 'init', 0],
    ['SMTPConnection', SMTPConnection.prototype, '_setListeners', 1],
    ['SMTPConnection', SMTPConnection.prototype, 'connectionReady', 1],
    ['SMTPConnection', SMTPConnection.prototype, 'send', 3],
    ['SMTPConnection', SMTPConnection.prototype, '_onCommand', 2],
    ['SMTPConnection', SMTPConnection.prototype, '_createParser', 0],
    ['SMTPConnection', SMTPConnection.prototype, '_whenWritable', 1],
    // the connection counts (processConnections) are given back here: smtp-server emits no 'close'
    ['SMTPConnection', SMTPConnection.prototype, '_onClose', 0],
    // smtp/command-lines.ts
    ['SMTPStream', SMTPStream.prototype, '_write', 3],
    ['SMTPStream', SMTPStream.prototype, 'oncommand', 2],
    ['SMTPStream', SMTPStream.prototype, '_commandTooLong', 0],
  ];
  for (const [holder, proto, name, arity] of expected) {
    const method = (proto as Record<string, unknown>)[name];
    assert.equal(typeof method, 'function', `${holder}.prototype.${name} is a method`);
    assert.equal((method as (...args: unknown[]) => unknown).length, arity, `${holder}.prototype.${name} takes ${arity} arguments`);
  }
  // and ours really override them (a rename on either side would leave an override that is never called)
  for (const name of ['connect', '_expectsProxyHeader', '_handleProxy']) assert.ok(Object.hasOwn(MtaqSMTPServer.prototype, name), name);
  for (const name of ['init', 'send', '_onCommand', '_createParser', '_onClose']) assert.ok(Object.hasOwn(MtaqConnection.prototype, name), name);
  assert.ok(Object.hasOwn(StrictSMTPStream.prototype, '_write'));
  assert.equal(typeof socketTimeout, 'function');
  assert.equal(socketTimeout({ socketTimeout: 1234 }), 1234);
  assert.equal(typeof socketTimeout({}), 'number');
});

test('the fields mtaq reads on the server and the parser', () => {
  const onData = (): void => undefined;
  const server = new SMTPServer({ logger: false, onData });
  // MtaqSMTPServer wraps the application's onData, which smtp-server installs as an own property
  assert.ok(Object.hasOwn(server, 'onData'));
  assert.equal(server.onData, onData);
  assert.ok(server.connections instanceof Set);
  assert.equal(server._closeTimeout, false);
  assert.ok(server.server instanceof net.Server);
  assert.equal(typeof server.options, 'object');

  const parser = new StrictSMTPStream({ maxCommandLength: 64 });
  assert.equal(parser._dataMode, false);
  assert.equal(parser._remainder, '');
  // MtaqConnection tells an over-long line from other parser errors by this message
  assert.match(parser._commandTooLong().message, /too long/i);
});

describe('a real session through MtaqSMTPServer', () => {
  const servers: SMTPServer[] = [];
  const talks: SmtpTalk[] = [];
  after(async () => {
    for (const t of talks) await t.quit();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  async function start(options: Partial<MtaqServerOptions>): Promise<{ server: MtaqSMTPServer; port: number }> {
    const server = new MtaqSMTPServer({
      name: 'mx.internals.test',
      logger: false,
      disableReverseLookup: true,
      authOptional: true,
      authMethods: ['PLAIN'],
      greetingDelay: () => 0,
      maxErrors: 100,
      // as smtp/options.ts sets them
      hideENHANCEDSTATUSCODES: false,
      lenientAddressParsing: true,
      ...options,
    });
    server.on('error', () => undefined);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.server.address() as net.AddressInfo).port };
  }

  async function talk(port: number): Promise<SmtpTalk> {
    const t = await SmtpTalk.connect(port);
    talks.push(t);
    return t;
  }

  test('greeting, command lines, AUTH before STARTTLS, unknown commands, recipients, DATA', async () => {
    const greeted: string[] = [];
    const received: string[] = [];
    const { server, port } = await start({
      maxRecipients: 2,
      greetingDelay: (ip) => {
        greeted.push(ip);
        return 0;
      },
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push(Buffer.concat(chunks).toString());
          callback(null, replyText(replies.queued([{ id: 'q1', recipient: 'a@example.org' }, { id: 'q2', recipient: 'b@example.org' }])));
        });
      },
    });
    const t = await talk(port);
    assert.equal((await t.read()).code, 220);
    assert.deepEqual(greeted, ['127.0.0.1'], 'init() override asked for the greeting delay');

    const ehlo = await t.command('EHLO client.test');
    assert.equal(ehlo.code, 250);
    assert.ok(ehlo.lines.some((l) => /STARTTLS/.test(l)), 'STARTTLS offered (built-in certificate)');
    assert.ok(!ehlo.lines.some((l) => /AUTH/.test(l)), 'send() override hides AUTH before TLS');

    // the connection fields MtaqConnection reads
    const connection = [...server.connections][0] as MtaqConnection;
    assert.ok(connection instanceof MtaqConnection, 'connect() override makes our connection');
    assert.equal(connection._server, server);
    assert.equal(connection._ready, true);
    assert.equal(connection._closing, false);
    assert.equal(connection._upgrading, false);
    assert.equal(connection._nextHandler, false);
    assert.equal(typeof connection._unrecognizedCommands, 'number');
    assert.equal(connection.name, 'mx.internals.test');
    assert.equal(connection.secure, false);
    assert.equal(connection.remoteAddress, '127.0.0.1');

    // the library's 538, answered as RFC 3207's 530
    assert.equal(libraryReplies.authBeforeStartTls.code, 538);
    const auth = await t.command('AUTH PLAIN AGFsaWNlAHB3');
    assert.equal(auth.code, replies.startTlsFirst.code);
    assert.equal(auth.text, replyText(replies.startTlsFirst));

    // _createParser() override: a bare LF ends no command line; the parser goes on
    t.write('NOOP\n');
    const bare = await t.read();
    assert.equal(bare.code, replies.bareLineEndingInCommand.code);
    assert.equal(bare.text, replyText(replies.bareLineEndingInCommand));
    assert.equal((await t.command('NOOP')).code, 250);

    // over-long command line
    const long = await t.command(`NOOP ${'x'.repeat(600)}`);
    assert.equal(long.text, replyText(replies.lineTooLong));

    // _onCommand() override: smtp-server's own limit of 10 unrecognised commands no longer closes
    for (let i = 0; i < 12; i++) assert.equal((await t.command('XYZZY')).code, 500);
    assert.equal((await t.command('NOOP')).code, 250);

    assert.equal((await t.command('MAIL FROM:<s@example.com>')).code, 250);
    assert.equal((await t.command('RCPT TO:<a@example.org>')).code, 250);
    assert.equal((await t.command('RCPT TO:<b@example.org>')).code, 250);
    const third = await t.command('RCPT TO:<c@example.org>');
    assert.equal(third.code, libraryReplies.tooManyRecipients.code);
    assert.equal(third.text, replyText(libraryReplies.tooManyRecipients));

    assert.equal((await t.command('DATA')).code, 354);
    const data = await t.command('Subject: hi\r\n\r\nbody\r\n.');
    assert.deepEqual(data.lines, [
      '250-2.6.0 Ok, your message has been queued using the following identifiers:',
      '250-2.6.0 q1 for a@example.org',
      '250 2.6.0 q2 for b@example.org',
    ]);
    assert.deepEqual(received, ['Subject: hi\r\n\r\nbody\r\n']);

    // the constructor's onData wrapper: a bare LF in the message refuses it before the application answers
    assert.equal((await t.command('MAIL FROM:<s@example.com>')).code, 250);
    assert.equal((await t.command('RCPT TO:<a@example.org>')).code, 250);
    assert.equal((await t.command('DATA')).code, 354);
    const smuggled = await t.command('Subject: hi\r\n\r\nbody\nmore\r\n.');
    assert.equal(smuggled.text, replyText(replies.bareLineEndingInMessage('bare LF')));
    assert.equal(received.length, 1, 'the application never saw the end of it');
  });

  test('_expectsProxyHeader / _handleProxy: a PROXY v1 header from a listed peer sets the client address', async () => {
    let seen: SMTPServerSession | undefined;
    const { port } = await start({
      proxy: CidrList.parse('127.0.0.1'),
      onConnect(session, callback) {
        seen = session;
        callback();
      },
    });
    const t = await talk(port);
    t.write('PROXY TCP4 192.0.2.9 127.0.0.1 5555 25\r\n');
    assert.equal((await t.read()).code, 220);
    assert.equal(seen?.remoteAddress, '192.0.2.9');
    assert.equal(seen?.remotePort, 5555);
  });

  test('init() override: maxClients is checked against the sessions this process admitted (processConnections)', async () => {
    // earlier tests of this file left sessions open: the cap counts every listener of the process
    const { port } = await start({ maxClients: processConnections.inbound + 1 });
    const first = await talk(port);
    assert.equal((await first.read()).code, 220);
    const second = await talk(port);
    const refused = await second.read();
    assert.equal(refused.code, replies.tooManyClients.code);
    assert.equal(refused.text, replyText(replies.tooManyClients));
  });

  test('init() override: a greeting delay holds the session; the library answers an early talker', async () => {
    const { port } = await start({ greetingDelay: () => 300 });
    const t = await talk(port);
    t.write('EHLO early.test\r\n');
    const early = await t.read();
    assert.equal(early.code, 421);
    assert.match(early.text, /You talk too soon/);
  });

  test('the library closes an idle session with 421 4.4.2', async () => {
    const { port } = await start({ socketTimeout: 200 });
    const t = await talk(port);
    assert.equal((await t.read()).code, 220);
    const idle = await t.read(5000);
    assert.equal(idle.code, libraryReplies.idleTimeout.code);
    assert.equal(idle.text, replyText(libraryReplies.idleTimeout));
  });
});
