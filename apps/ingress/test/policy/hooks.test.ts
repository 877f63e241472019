import assert from 'node:assert/strict';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { SmtpTalk } from '../../../../test/helpers/smtp.js';
import type { AccessPolicy } from '../../src/policy/access-policy.js';
import type { Authenticator } from '../../src/policy/authenticator.js';
import { PolicyHooks } from '../../src/policy/hooks.js';
import { answer } from '../../src/smtp/callbacks.js';
import { replies, replyError, replyText, type Reply } from '../../src/smtp/replies.js';
import { MtaqSMTPServer } from '../../src/smtp/server.js';

const quiet = { info: () => undefined, warn: () => undefined, child: () => quiet } as unknown as Logger;

function session(id: string, remoteAddress: string): SMTPServerSession {
  return { id, remoteAddress } as SMTPServerSession;
}

/** PolicyHooks over stand-ins: an access policy whose connect check takes `connectMs`. */
function hooks(options: { connectMs: number; perIp: number }): PolicyHooks {
  const access = {
    async connect(): Promise<Reply | undefined> {
      await sleep(options.connectMs);
      return undefined;
    },
  } as unknown as AccessPolicy;
  const config = {
    'smtp-connections-per-ip': options.perIp,
    'smtp-connection-rate-per-ip': 0,
    'smtp-validate-address': 'strict',
  } as unknown as Config;
  return new PolicyHooks({ config, access, authenticator: {} as Authenticator, logger: quiet });
}

test('connection limits: a session counts until it closes', async () => {
  const policy = hooks({ connectMs: 0, perIp: 1 });
  const first = session('s1', '192.0.2.1');
  assert.equal(await policy.connect(first), undefined);
  assert.deepEqual(await policy.connect(session('s2', '192.0.2.1')), replies.tooManyConcurrentConnections('192.0.2.1'));
  policy.closed(first);
  assert.equal(await policy.connect(session('s3', '192.0.2.1')), undefined);
});

test('connection limits: a client that leaves while its connect check is pending is never counted in', async () => {
  const policy = hooks({ connectMs: 50, perIp: 1 });
  const gone = session('s1', '192.0.2.1');
  const pending = policy.connect(gone);
  policy.closed(gone);
  assert.equal(await pending, undefined);
  assert.equal(await policy.connect(session('s2', '192.0.2.1')), undefined, 'the slot is free');
});

test('smtp-server awaits a slow policy check; a thrown typed error is its reply, anything else 451 4.3.0', async (t) => {
  const server = new MtaqSMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    hideENHANCEDSTATUSCODES: false,
    lenientAddressParsing: true,
    greetingDelay: () => 0,
    // a check that asks something remote (a Redis throttle, an SPF lookup) before it answers
    onRcptTo: (address, _session, callback) =>
      answer(
        async (): Promise<Reply | undefined> => {
          await sleep(150);
          if (address.address.startsWith('typed')) throw replyError(replies.relayingDenied(address.address));
          if (address.address.startsWith('broken')) throw new Error('redis: connection refused');
          return address.address.startsWith('ok') ? undefined : replies.recipientRefused(address.address);
        },
        callback,
      ),
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const talk = await SmtpTalk.connect((server.server.address() as net.AddressInfo).port);
  // the client first: smtp-server's close waits for open sessions (30 s closeTimeout)
  t.after(async () => {
    await talk.quit();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await talk.read();
  await talk.command('EHLO client.test');
  await talk.command('MAIL FROM:<s@example.com>');

  const started = Date.now();
  assert.equal((await talk.command('RCPT TO:<ok@example.org>')).code, 250);
  assert.ok(Date.now() - started >= 140, 'the reply waited for the check');
  const refused = await talk.command('RCPT TO:<no@example.org>');
  assert.equal(refused.text, replyText(replies.recipientRefused('no@example.org')));
  const typed = await talk.command('RCPT TO:<typed@example.org>');
  assert.equal(typed.code, 554);
  assert.equal(typed.text, replyText(replies.relayingDenied('typed@example.org')));
  const broken = await talk.command('RCPT TO:<broken@example.org>');
  assert.equal(broken.code, 451);
  assert.equal(broken.text, replyText(replies.localError));
});

test('checks that need no I/O answer without a promise: connect at once, the others after the reads of the turn', async () => {
  const access = { connect: () => undefined, mailFrom: () => undefined, rcptTo: (address: string) => (address.startsWith('no') ? replies.recipientRefused(address) : undefined) };
  const config = { 'smtp-connections-per-ip': 1, 'smtp-connection-rate-per-ip': 0, 'smtp-validate-address': 'strict' } as unknown as Config;
  const policy = new PolicyHooks({ config, access: access as unknown as AccessPolicy, authenticator: {} as Authenticator, logger: quiet });
  const s = session('s1', '192.0.2.9');
  assert.equal(policy.connect(s), undefined);
  assert.equal(policy.mailFrom('a@example.com', s), undefined);
  assert.deepEqual(policy.rcptTo('no@example.org', s), replies.recipientRefused('no@example.org'));
  assert.deepEqual(policy.rcptTo('not an address', s), replies.invalidMailbox('recipient', 'not an address'));
  assert.deepEqual(policy.connect(session('s2', '192.0.2.9')), replies.tooManyConcurrentConnections('192.0.2.9'), 'the limit still counts');

  const answers: Array<string | null> = [];
  const record = (err?: Error | null): void => void answers.push(err ? err.message : null);
  answer(() => policy.rcptTo('ok@example.org', s), record);
  answer(() => policy.rcptTo('no@example.org', s), record);
  answer(() => {
    throw new Error('a bug in a check');
  }, record);
  assert.deepEqual(answers, [], 'nothing written between two reads of a poll phase');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(answers, [null, replyText(replies.recipientRefused('no@example.org')), replyText(replies.localError)], 'all three answered in order, in the check phase');
  answer(() => policy.connect(session('s3', '192.0.2.10')), record, undefined, 'now');
  assert.equal(answers.length, 4, 'a connect check answered before answer() returns');
  assert.equal(answers[3], null);
});
