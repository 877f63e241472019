import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { declaredSize, TransactionGate } from '../../src/message/transactions.js';

const MB = 1024 * 1024;

function session(id: string): SMTPServerSession & { envelope: { rcptTo: Array<{ address: string }> } } {
  return { id, remoteAddress: '192.0.2.1', envelope: { mailFrom: false, rcptTo: [] } } as unknown as SMTPServerSession & {
    envelope: { rcptTo: Array<{ address: string }> };
  };
}

function gate(broker = { available: true }): TransactionGate {
  return new TransactionGate({ limit: 10 * MB, maxSize: 4 * MB, broker, logger: silentLogger });
}

test('MAIL FROM reserves the declared SIZE, else a provisional share; 452 4.3.1 when it does not fit', () => {
  const g = gate();
  const [a, b, c] = [session('a'), session('b'), session('c')];
  assert.equal(g.begin(a, 3 * MB), undefined);
  assert.equal(g.begin(b, 4 * MB), undefined);
  assert.equal(g.used, 7 * MB);
  const refused = g.begin(c, 4 * MB);
  assert.deepEqual([refused?.code, refused?.status], [452, '4.3.1']);
  assert.equal(g.begin(c, 3 * MB), undefined, 'a smaller one still fits');
  g.end(a);
  g.end(a); // twice is harmless
  assert.equal(g.used, 7 * MB);
  g.end(b);
  g.end(c);
  assert.equal(g.used, 0);
});

test('without SIZE a transaction starts with 64 KB, not smtp-maxsize: many run at once', () => {
  const g = new TransactionGate({ limit: 64 * MB, maxSize: 100 * MB, broker: { available: true }, logger: silentLogger });
  const sessions = Array.from({ length: 1024 }, (_, i) => session(`u${i}`));
  for (const s of sessions) assert.equal(g.begin(s, undefined), undefined);
  assert.equal(g.used, 64 * MB);
  assert.equal(g.begin(session('over'), undefined)?.code, 452, 'the cap still holds');
});

test('DATA grows the reservation with the bytes held, doubling; no room → false, and the cap holds', () => {
  const g = new TransactionGate({ limit: 10 * MB, maxSize: 10 * MB, broker: { available: true }, logger: silentLogger });
  const [a, b] = [session('a'), session('b')];
  g.begin(a, undefined);
  assert.equal(g.used, 64 * 1024);
  assert.equal(g.hold(a, 60 * 1024), true, 'within the reservation');
  assert.equal(g.used, 64 * 1024);
  assert.equal(g.hold(a, 65 * 1024), true);
  assert.equal(g.used, 128 * 1024, 'doubled');
  assert.equal(g.hold(a, 3 * MB), true);
  assert.equal(g.used, 3 * MB, 'grown to what is held');
  g.begin(b, 6 * MB);
  assert.equal(g.used, 9 * MB);
  assert.equal(g.hold(a, 4 * MB), true, 'exactly the last 1 MB of room');
  assert.equal(g.used, 10 * MB);
  assert.equal(g.hold(a, 4 * MB + 1), false, 'no room left');
  assert.equal(g.hold(b, 7 * MB), false, 'a declared SIZE that was a lie gets no more either');
  assert.equal(g.used, 10 * MB);
  g.end(a);
  g.end(b);
  assert.equal(g.used, 0, 'grown reservations are released in full');
  assert.equal(g.hold(a, 100 * MB), true, 'a session without a transaction is not counted');
});

test('a new MAIL FROM in the same session replaces its reservation', () => {
  const g = gate();
  const a = session('a');
  g.begin(a, 4 * MB);
  g.begin(a, 2 * MB);
  assert.equal(g.used, 2 * MB);
});

test('broker unavailable or blocked: 451 4.3.0 at MAIL FROM, nothing reserved', () => {
  const broker = { available: false };
  const g = gate(broker);
  const r = g.begin(session('a'), 1000);
  assert.deepEqual([r?.code, r?.status], [451, '4.3.0']);
  assert.equal(g.used, 0);
});

test('RCPT: recipients × declared SIZE above smtp-max-inflight → 452 4.5.3; the first is always taken', () => {
  const g = gate();
  const a = session('a');
  g.begin(a, 3 * MB);
  for (let i = 0; i < 3; i++) {
    assert.equal(g.recipient(a), undefined);
    a.envelope.rcptTo.push({ address: `r${i}@x` });
  }
  const r = g.recipient(a);
  assert.deepEqual([r?.code, r?.status], [452, '4.5.3']);
  const noSize = session('n');
  g.end(a);
  g.begin(noSize, undefined);
  for (let i = 0; i < 10; i++) noSize.envelope.rcptTo.push({ address: `r${i}@x` });
  assert.equal(g.recipient(noSize), undefined, 'no SIZE declared: not counted per recipient');
});

test('declaredSize reads SIZE= from smtp-server args', () => {
  assert.equal(declaredSize({ SIZE: '12345' }), 12345);
  assert.equal(declaredSize({ BODY: '8BITMIME' }), undefined);
  assert.equal(declaredSize(false), undefined);
  assert.equal(declaredSize({ SIZE: 'x' }), undefined);
});
