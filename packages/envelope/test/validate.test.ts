import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvelopeError } from '@mtaq/errors';
import { parseIncoming, parseOutgoing, parseResultEntry, parseResultMessage } from '../src/index.js';

// Verbatim from the reference, §3 and §4.
const INCOMING_EXAMPLE = `{"message-id":"k3x9q2ab","received":"2024-05-01 10:00:00","hostname":"mx1.example.net",
 "envelope":"alice@example.com","recipient":"bob@example.org","mime":"From: …",
 "connection":{"local-ip":"10.0.0.5","local-port":25,"remote-ip":"192.0.2.7","remote-port":53122,"secure":true,"user":"alice"},
 "ips":["10.0.0.5"],"tags":["newsletter"]}`;

const OUTGOING_EXAMPLE = `{"envelope":"bounce@example.com","recipient":"info@example.org","mime":"From: …\\r\\n\\r\\nHi",
 "pool":"bulk","tags":["cust-42"],"maxdelivertime":"2024-05-02 10:00:00","retries":[300,900],
 "dsn":{"notify":"FAILURE","ret":"HDRS","envid":"abc"},"queues":{"success":null,"failure":"f42"},
 "headers":{"remove":["bcc"],"replace":{"x-mailer":"ours"}},"my-ref":"order-991"}`;

function rejects(fn: () => unknown, path: string, reason?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EnvelopeError, `expected EnvelopeError, got ${String(e)}`);
    assert.equal(e.path, path);
    if (reason) assert.match(e.message, reason);
    return true;
  });
}

const outgoing = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  recipient: 'bob@example.org',
  mime: 'From: a@x\r\n\r\nHi',
  ...extra,
});

test('the §4 example is a valid outgoing message, returned as the same object, unchanged', () => {
  const raw = JSON.parse(OUTGOING_EXAMPLE) as unknown;
  const before = structuredClone(raw);
  const msg = parseOutgoing(raw);
  assert.equal(msg, raw);
  assert.deepEqual(msg, before);
  assert.equal(msg['my-ref'], 'order-991');
  assert.equal(msg.queues?.success, null);
});

test('the §3 example is a valid incoming message and also a valid outgoing one', () => {
  const msg = parseIncoming(JSON.parse(INCOMING_EXAMPLE));
  assert.equal(msg.connection?.user, 'alice');
  assert.equal(msg['message-id'], 'k3x9q2ab');
  assert.deepEqual(parseOutgoing(JSON.parse(INCOMING_EXAMPLE)), JSON.parse(INCOMING_EXAMPLE));
});

test('incoming from spool/cli/http needs no connection, but needs one injection path', () => {
  const base = { received: '2024-05-01 10:00:00', hostname: 'mx1', envelope: '', recipient: 'b@x.org', mime: 'x' };
  assert.ok(parseIncoming({ ...base, spool: { directory: '/var/spool', file: 'a.eml', user: 'root', size: 12 } }));
  assert.ok(parseIncoming({ ...base, cli: { command: 'mtaq', arguments: ['inject'], user: 'root' } }));
  rejects(() => parseIncoming(base), 'connection');
  rejects(() => parseIncoming({ ...base, received: '2024-05-01T10:00:00Z', cli: {} }), 'received', /YYYY-MM-DD HH:MM:SS/);
  rejects(() => parseIncoming({ ...base, mime: { from: 'a' }, cli: {} }), 'mime');
});

test('incoming connection shape', () => {
  const doc = JSON.parse(INCOMING_EXAMPLE) as { connection: Record<string, unknown> };
  doc.connection['remote-port'] = '53122';
  rejects(() => parseIncoming(doc), 'connection.remote-port', /integer/);
  delete doc.connection['remote-port'];
  rejects(() => parseIncoming(doc), 'connection.remote-port', /required/);
  doc.connection['remote-port'] = 1;
  doc.connection['local-ip'] = 'mx1';
  rejects(() => parseIncoming(doc), 'connection.local-ip');
});

test('outgoing needs a recipient and one of mime / key', () => {
  rejects(() => parseOutgoing({ mime: 'x' }), 'recipient', /required/);
  rejects(() => parseOutgoing({ recipient: '', mime: 'x' }), 'recipient');
  rejects(() => parseOutgoing({ recipient: 'b@x' }), 'mime', /mime or key/);
  assert.ok(parseOutgoing({ recipient: 'b@x', key: 'store-key-1' }));
  assert.ok(parseOutgoing({ recipient: 'b@x', mime: { from: 'a@x', subject: 'hi', text: 'x' } }));
  rejects(() => parseOutgoing({ recipient: 'b@x', mime: 42 }), 'mime');
  rejects(() => parseOutgoing(null), '');
  rejects(() => parseOutgoing([outgoing()]), '');
});

test('bad shapes are reported with the path of the first problem', () => {
  rejects(() => parseOutgoing(outgoing({ dsn: { notify: 'SOMETIMES' } })), 'dsn.notify', /expected NEVER or a comma list of SUCCESS, FAILURE, DELAY/);
  rejects(() => parseOutgoing(outgoing({ dsn: { ret: 'ALL' } })), 'dsn.ret');
  rejects(() => parseOutgoing(outgoing({ retries: [300, -1] })), 'retries[1]');
  rejects(() => parseOutgoing(outgoing({ retries: [300, '600'] })), 'retries[1]');
  rejects(() => parseOutgoing(outgoing({ maxattempts: 2.5 })), 'maxattempts');
  rejects(() => parseOutgoing(outgoing({ maxdelivertime: '2024-05-02T10:00:00' })), 'maxdelivertime');
  rejects(() => parseOutgoing(outgoing({ nextattempt: '2024-05-02 10:00:00' })), 'nextattempt');
  rejects(() => parseOutgoing(outgoing({ nextattempt: {} })), 'nextattempt.time', /required/);
  rejects(() => parseOutgoing(outgoing({ queues: { failure: 7 } })), 'queues.failure');
  rejects(() => parseOutgoing(outgoing({ smarthost: { port: 25 } })), 'smarthost.hostname');
  rejects(() => parseOutgoing(outgoing({ smarthost: { hostname: 'relay', port: 'x' } })), 'smarthost.port');
  rejects(() => parseOutgoing(outgoing({ tags: ['a', 3] })), 'tags[1]');
  rejects(() => parseOutgoing(outgoing({ dkim: [{ domain: 'x', selector: 's', key: 'k' }, { domain: 'x', selector: 's' }] })), 'dkim[1].key');
  rejects(() => parseOutgoing(outgoing({ headers: { append: { 'x-a': ['1', 2] } } })), 'headers.append.x-a[1]');
  rejects(() => parseOutgoing(outgoing({ priority: 256 })), 'priority');
  rejects(() => parseOutgoing(outgoing({ security: 'maybe' })), 'security');
  rejects(() => parseOutgoing(outgoing({ keepmime: 'true' })), 'keepmime');
  rejects(() => parseOutgoing(outgoing({ results: ['x'] })), 'results[0]');
});

test('normalisations: legacy delayed, string port, DSN keyword case, non-array ips', () => {
  const msg = parseOutgoing(
    outgoing({
      delayed: '2030-01-01 00:00:00',
      smarthost: { hostname: 'relay.test', port: '2525' },
      dsn: { notify: 'failure, delay', ret: 'hdrs' },
      ips: '10.0.0.5',
    }),
  );
  assert.deepEqual(msg.nextattempt, { time: '2030-01-01 00:00:00' });
  assert.equal('delayed' in msg, false);
  assert.equal(msg.smarthost?.port, 2525);
  assert.deepEqual(msg.dsn, { notify: 'FAILURE,DELAY', ret: 'HDRS' });
  assert.equal('ips' in msg, false);
  // The newer spelling wins when both are present.
  const both = parseOutgoing(outgoing({ delayed: '2030-01-01 00:00:00', nextattempt: { time: '2031-01-01 00:00:00' } }));
  assert.deepEqual(both.nextattempt, { time: '2031-01-01 00:00:00' });
  rejects(() => parseOutgoing(outgoing({ delayed: 'tomorrow' })), 'delayed');
});

test('unknown properties pass through untouched, nested ones too', () => {
  const custom = { deep: [1, { x: null }] };
  const msg = parseOutgoing(outgoing({ custom, nextattempt: { time: '2030-01-01 00:00:00', why: 'greylist' } }));
  assert.equal(msg.custom, custom);
  assert.equal(msg.nextattempt?.why, 'greylist');
});

const ENTRY = {
  state: 'rcptto',
  result: 'error',
  time: '2024-05-01 10:00:05',
  code: 451,
  status: '4.7.1',
  description: 'try later',
  from: '10.0.0.5',
  to: '198.51.100.3',
  mta: 'mx.example.org',
  sent: { connection: 1200, data: 0 },
  cipher: { name: 'TLS_AES_256_GCM_SHA384', bits: 256, algbits: 256, version: 'TLSv1.3', id: 4866 },
};

test('result entries', () => {
  assert.ok(parseResultEntry(structuredClone(ENTRY)));
  assert.ok(parseResultEntry({ state: 'process', result: 'timeout', time: '2024-05-01 10:00:05' }));
  rejects(() => parseResultEntry({ ...ENTRY, state: 'sending' }), 'state');
  rejects(() => parseResultEntry({ ...ENTRY, result: 'ok' }), 'result');
  rejects(() => parseResultEntry({ ...ENTRY, time: undefined }), 'time', /required/);
  rejects(() => parseResultEntry({ ...ENTRY, code: '451' }), 'code');
  rejects(() => parseResultEntry({ ...ENTRY, sent: { connection: 1 } }), 'sent.data');
  rejects(() => parseResultEntry({ ...ENTRY, fatal: 'yes' }), 'fatal');
});

test('result messages: results required, mime optional, entries fully checked', () => {
  const msg = parseResultMessage({
    envelope: 'a@x',
    recipient: 'b@y',
    results: [structuredClone(ENTRY)],
    extracted: { from: 'a@x', to: ['b@y'], subject: 'Hi', headers: {}, envelope: { local: 'a', domain: 'x' }, recipient: { local: 'b', domain: 'y' } },
    'my-ref': 1,
  });
  assert.equal(msg.results[0]?.code, 451);
  assert.ok(parseResultMessage({ invalid: '{not json', results: [{ state: 'process', result: 'invalid', time: '2024-05-01 10:00:05' }] }));
  rejects(() => parseResultMessage({ recipient: 'b@y' }), 'results');
  rejects(() => parseResultMessage({ recipient: 'b@y', results: [ENTRY, { ...ENTRY, state: 'x' }] }), 'results[1].state');
  rejects(() => parseResultMessage({ results: [], extracted: { to: 'b@y' } }), 'extracted.to');
});

test('CR, LF and other control characters in recipient or envelope make the document unusable', () => {
  for (const bad of ['a@b.test\r\nRCPT TO:<c@d.test>', 'a@b.test\n', 'a\u0000@b.test', 'a@b.test\u007f']) {
    rejects(() => parseOutgoing({ recipient: bad, mime: 'x' }), 'recipient', /control characters/);
    rejects(() => parseOutgoing({ recipient: 'ok@b.test', envelope: bad, mime: 'x' }), 'envelope', /control characters/);
  }
  assert.equal(parseOutgoing({ recipient: 'ok@b.test', envelope: '', mime: 'x' }).envelope, '');
});

test('message-id is typed on every document; a union names what it wanted', () => {
  assert.equal(parseOutgoing(outgoing({ 'message-id': 'k3x9q2ab.0' }))['message-id'], 'k3x9q2ab.0');
  rejects(() => parseOutgoing(outgoing({ 'message-id': 7 })), 'message-id', /string/);
  rejects(() => parseOutgoing(outgoing({ queues: { failure: 7 } })), 'queues.failure', /expected a string or null/);
  rejects(() => parseOutgoing(outgoing({ headers: { remove: 5 } })), 'headers.remove', /expected a string or an array/);
  rejects(() => parseOutgoing(outgoing({ dkim: { domain: 'x', selector: 's', key: 'k', expire: '2024-02-30 00:00:00' } })), 'dkim.expire', /YYYY-MM-DD/);
});
