import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import libmime from 'libmime';
import { applyHeaderEdits, FOLD_AT, formatField, headerEditsProblem, type HeaderEdits } from '../../src/transport/header-edits.js';

const BODY = '\r\nBody line\r\nX-Not-A-Header: body\r\nbcc: also body\r\n';
const MIME = [
  'Received: from a by b;\r\n\tMon, 1 Jan 2024 00:00:00 +0000',
  'From: a@example.com',
  'To: b@example.org',
  'Bcc: secret@example.org',
  'Subject: first',
  'X-Mailer: theirs',
  'subject: second',
  'BCC: again@example.org',
  '',
].join('\r\n');

function edit(edits: HeaderEdits, mime = MIME + BODY): string {
  return applyHeaderEdits(Buffer.from(mime), edits).toString('utf8');
}

function header(out: string): string[] {
  return out.slice(0, out.indexOf('\r\n\r\n')).split(/\r\n(?![ \t])/);
}

describe('header edits (§4 headers)', () => {
  test('no edits: the very same buffer', () => {
    const buf = Buffer.from(MIME + BODY);
    assert.equal(applyHeaderEdits(buf, undefined), buf);
    assert.equal(applyHeaderEdits(buf, {}), buf);
    assert.equal(applyHeaderEdits(buf, { remove: [], prepend: {} }), buf);
  });

  test('remove: a name or an array, every occurrence, case-insensitive, body untouched', () => {
    const out = edit({ remove: 'BCC' });
    assert.ok(!/^bcc:/im.test(out.slice(0, out.indexOf('\r\n\r\n'))));
    assert.ok(out.endsWith(BODY), 'body bytes unchanged');
    const two = edit({ remove: ['bcc', 'x-mailer', 'received'] });
    assert.deepEqual(header(two), ['From: a@example.com', 'To: b@example.org', 'Subject: first', 'subject: second']);
  });

  test('replace: the first occurrence rewritten in place (its name spelling kept), the rest dropped', () => {
    const out = edit({ replace: { SUBJECT: 'new' } });
    const lines = header(out);
    assert.deepEqual(lines.filter((l) => /^subject:/i.test(l)), ['Subject: new']);
    assert.equal(lines.indexOf('Subject: new'), 4, 'where the first one was');
    assert.ok(out.endsWith(BODY));
  });

  test('replace appends when absent; update never does', () => {
    assert.equal(header(edit({ replace: { 'X-Campaign': 'c1' } })).at(-1), 'X-Campaign: c1');
    assert.equal(edit({ update: { 'X-Campaign': 'c1' } }), MIME + BODY);
    const updated = header(edit({ update: { 'x-mailer': 'ours', subject: 'upd' } }));
    assert.ok(updated.includes('X-Mailer: ours'));
    assert.deepEqual(updated.filter((l) => /^subject:/i.test(l)), ['Subject: upd']);
  });

  test('prepend on top and append/add at the end, in the order written', () => {
    const lines = header(edit({ prepend: { 'X-P1': ['a', 'b'], 'X-P2': 'c' }, append: { 'X-A': ['1', '2'] }, add: { 'X-Add': 'z' } }));
    assert.deepEqual(lines.slice(0, 3), ['X-P1: a', 'X-P1: b', 'X-P2: c']);
    assert.deepEqual(lines.slice(-3), ['X-A: 1', 'X-A: 2', 'X-Add: z']);
  });

  test('order remove → replace → update → prepend → append', () => {
    // remove runs first, so replace finds no Subject and appends it; prepend/append are not removed
    const lines = header(edit({ remove: ['subject', 'x-tag'], replace: { subject: 'r' }, update: { subject: 'u' }, prepend: { 'X-Tag': 'p' }, append: { 'X-Tag': 'a' } }));
    assert.deepEqual(lines.filter((l) => /^subject:/i.test(l)), ['subject: u']);
    assert.equal(lines[0], 'X-Tag: p');
    assert.equal(lines.at(-1), 'X-Tag: a');
  });

  test('non-ASCII values are RFC 2047 encoded and long values folded at 78', () => {
    const out = edit({ replace: { Subject: 'Grüße aus Köln — ünïcödé' }, append: { 'X-Long': 'word '.repeat(40).trim() } });
    const head = out.slice(0, out.indexOf('\r\n\r\n'));
    assert.ok(!/[^\x00-\x7f]/.test(head), 'header block is ASCII');
    const subject = header(out).find((l) => l.startsWith('Subject:'))!;
    assert.match(subject, /=\?UTF-8\?Q\?/);
    assert.equal(libmime.decodeWords(subject.slice('Subject: '.length).replace(/\r\n[ \t]/g, ' ')), 'Grüße aus Köln — ünïcödé');
    for (const line of head.split('\r\n')) assert.ok(line.length <= FOLD_AT, `line of ${line.length}: ${line}`);
    const long = header(out).find((l) => l.startsWith('X-Long:'))!;
    assert.ok(long.includes('\r\n '), 'folded');
    assert.equal(long.replace(/\r\n/g, ''), `X-Long: ${'word '.repeat(40).trim()}`);
    assert.ok(out.endsWith(BODY));
  });

  test('CR, LF or NUL in a value, or a bad name, is a problem (no header injection)', () => {
    assert.match(headerEditsProblem({ append: { 'X-A': 'x\r\nBcc: victim@example.org' } })!, /CR, LF/);
    assert.match(headerEditsProblem({ replace: { Subject: 'x\nBcc: y' } })!, /CR, LF/);
    assert.match(headerEditsProblem({ prepend: { 'X-A': ['ok', 'bad\r'] } })!, /CR, LF/);
    assert.match(headerEditsProblem({ update: { 'X-A': 'nul\u0000' } })!, /CR, LF/);
    assert.match(headerEditsProblem({ add: { 'Bad Name': 'v' } })!, /not a header field name/);
    assert.match(headerEditsProblem({ add: { 'X-A:\r\nBcc': 'v' } })!, /not a header field name/);
    assert.equal(headerEditsProblem({ remove: 'bcc', append: { 'X-A': 'tab\tok' } }), undefined);
    assert.throws(() => applyHeaderEdits(Buffer.from(MIME + BODY), { append: { 'X-A': 'a\r\nb' } }), /CR, LF/);
  });

  test('LF-only messages get LF-only fields; a header-only message; a message without a header', () => {
    const lf = applyHeaderEdits(Buffer.from('From: a@x\nSubject: s\n\nbody\n'), { replace: { Subject: 't' }, append: { 'X-A': '1' } }).toString();
    assert.equal(lf, 'From: a@x\nSubject: t\nX-A: 1\n\nbody\n');
    const only = applyHeaderEdits(Buffer.from('From: a@x'), { append: { 'X-A': '1' } }).toString();
    assert.equal(only, 'From: a@x\r\nX-A: 1\r\n');
    const none = applyHeaderEdits(Buffer.from('\r\nbody'), { prepend: { 'X-A': '1' } }).toString();
    assert.equal(none, 'X-A: 1\r\n\r\nbody');
  });

  test('8-bit body bytes (latin1, binary) come through byte for byte', () => {
    const body = Buffer.from([0x0d, 0x0a, 0xff, 0xfe, 0x00, 0xe9, 0x0d, 0x0a]);
    const out = applyHeaderEdits(Buffer.concat([Buffer.from('Subject: a\r\n'), body]), { replace: { Subject: 'b' } });
    assert.deepEqual(out.subarray(out.length - body.length), body);
  });

  test('formatField folds at whitespace and keeps short ASCII as is', () => {
    assert.equal(formatField('X-A', 'b'), 'X-A: b\r\n');
    const long = formatField('X-A', 'x '.repeat(60));
    for (const line of long.split('\r\n')) assert.ok(line.length <= FOLD_AT);
  });
});
