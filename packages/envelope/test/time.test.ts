import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvelopeError } from '@mtaq/errors';
import { formatTime, isTime, parseTime } from '../src/index.js';

test('formatTime writes UTC YYYY-MM-DD HH:MM:SS', () => {
  assert.equal(formatTime(new Date(Date.UTC(2031, 5, 30, 12, 0, 0, 999))), '2031-06-30 12:00:00');
  assert.equal(formatTime(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), '2024-01-02 03:04:05');
  assert.throws(() => formatTime(new Date(Number.NaN)), RangeError);
  assert.throws(() => formatTime(new Date(Date.UTC(10000, 0, 1))), RangeError);
});

test('parseTime is strict and UTC', () => {
  assert.equal(parseTime('2031-06-30 12:00:00').getTime(), Date.UTC(2031, 5, 30, 12, 0, 0));
  assert.equal(parseTime('2024-02-29 23:59:59').getTime(), Date.UTC(2024, 1, 29, 23, 59, 59));
  assert.equal(parseTime('0050-01-01 00:00:00').getUTCFullYear(), 50);
  for (const bad of [
    '2031-06-30T12:00:00',
    '2031-06-30 12:00:00Z',
    '2031-06-30 12:00:00.000',
    '2031-06-30 12:00',
    '2031-6-30 12:00:00',
    ' 2031-06-30 12:00:00',
    '2031-06-30  12:00:00',
    '2023-02-29 00:00:00',
    '2031-13-01 00:00:00',
    '2031-04-31 00:00:00',
    '2031-06-30 24:00:00',
    '2031-06-30 12:60:00',
    '2031-06-30 12:00:60',
    '2031-06-30 12:00:00+00:00',
    '',
  ]) {
    assert.equal(isTime(bad), false, bad);
    assert.throws(() => parseTime(bad), EnvelopeError, bad);
  }
  assert.equal(isTime(12), false);
  assert.equal(isTime('2031-06-30 12:00:00'), true);
});

test('formatTime and parseTime round trip', () => {
  const t = '1999-12-31 23:59:59';
  assert.equal(formatTime(parseTime(t)), t);
});
