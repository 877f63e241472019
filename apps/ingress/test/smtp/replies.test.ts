import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import test from 'node:test';
import { MtaqError, PublishError, SmtpReplyError } from '@mtaq/errors';
import { authFailureReply } from '../../src/policy/authenticator.js';
import { callbackError, smtpError } from '../../src/smtp/callbacks.js';
import { libraryReplies, replies, replyError, replyText, type Reply } from '../../src/smtp/replies.js';

const SRC = join(import.meta.dirname, '..', '..', 'src');

/** Every entry, functions called with sample arguments. */
function everyReply(): Array<[string, Reply]> {
  const samples: Record<string, unknown[]> = {
    invalidMailbox: ['recipient', 'a@b'],
    bareLineEndingInMessage: ['bare LF'],
    queued: [[{ id: 'x1', recipient: 'a@b' }]],
    unreadableInput: ['mx.test', 'boom'],
  };
  return Object.entries({ ...replies, ...libraryReplies }).map(([name, entry]) => {
    const value = typeof entry === 'function' ? (entry as (...args: unknown[]) => Reply)(...(samples[name] ?? ['192.0.2.1'])) : entry;
    return [name, value];
  });
}

test('every catalogue entry has a reply code, a matching RFC 3463 status and one-line text', () => {
  const entries = everyReply();
  assert.ok(entries.length >= 25, `catalogue has ${entries.length} entries`);
  for (const [name, r] of entries) {
    assert.match(String(r.code), /^[2-5]\d\d$/, name);
    assert.match(r.status, /^[245]\.\d{1,3}\.\d{1,3}$/, name);
    assert.equal(r.status[0], String(r.code)[0], `${name}: status class matches the code`);
    if (name !== 'queued') assert.doesNotMatch(r.text, /[\r\n]/, name);
  }
});

test('the DATA reply lists one id per recipient', () => {
  const r = replies.queued([
    { id: 'a1', recipient: 'info@example.com' },
    { id: 'a2', recipient: 'sales@example.com' },
  ]);
  assert.equal(r.code, 250);
  assert.equal(
    replyText(r),
    '2.6.0 Ok, your message has been queued using the following identifiers:\na1 for info@example.com\na2 for sales@example.com',
  );
});

test('replies travel as typed errors and in the shape smtp-server callbacks take', () => {
  const err = replyError(replies.relayingDenied('x@y.org'));
  assert.ok(err instanceof SmtpReplyError);
  assert.equal(err.responseCode, 554);
  assert.equal(err.reply, '5.7.1 relaying to <x@y.org> denied');
  assert.deepEqual({ ...callbackError(replies.authenticationRequired) }, { responseCode: 530 });
  assert.equal(callbackError(replies.authenticationRequired).message, '5.7.0 Authentication required');
  assert.equal(smtpError(err).message, '5.7.1 relaying to <x@y.org> denied');
  assert.equal(smtpError(new PublishError('message broker is unavailable')).message, '4.3.0 message broker is unavailable');
  assert.equal(smtpError(new PublishError('x')).responseCode, 451);
  assert.equal(smtpError(new MtaqError('bad json', 554, '5.6.0')).message, '5.6.0 bad json');
  assert.equal(smtpError(new Error('secret detail')).message, '4.3.0 local error in processing');
  assert.equal(smtpError(new Error('secret detail')).responseCode, 451);
});

test('authFailureReply: unavailable is a temporary 454, everything else 535 5.7.8', () => {
  assert.equal(authFailureReply({ ok: false, reason: 'unavailable' }).code, 454);
  assert.equal(authFailureReply({ ok: false, reason: 'unavailable' }).status, '4.7.0');
  for (const reason of ['invalid', 'network', 'insecure-password'] as const) {
    const reply = authFailureReply({ ok: false, reason });
    assert.equal(reply.code, 535);
    assert.equal(reply.status, '5.7.8');
  }
});

test('no reply literal outside the catalogue: no enhanced status or SmtpReplyError built elsewhere in the ingress', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && relative(SRC, path) !== join('smtp', 'replies.ts')) {
        readFileSync(path, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const code = line.replace(/\/\/.*$|^\s*\*.*$/, '');
            if (/['"`][245]\.\d{1,3}\.\d{1,3}\b|new SmtpReplyError\(|send\(\s*[245]\d\d\b/.test(code)) offenders.push(`${relative(SRC, path)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk(SRC);
  assert.deepEqual(offenders, []);
});
