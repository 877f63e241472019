import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidrList, ipFamily, isIp, normalizeIp } from '../src/index.js';

test('isIp accepts IPv4 and IPv6 literals only', () => {
  assert.equal(isIp('1.2.3.4'), true);
  assert.equal(isIp('::1'), true);
  assert.equal(isIp('::ffff:1.2.3.4'), true);
  assert.equal(isIp('1.2.3'), false);
  assert.equal(isIp('1.2.3.4/32'), false);
  assert.equal(isIp('example.com'), false);
  assert.equal(isIp(''), false);
});

test('normalizeIp strips the IPv4-mapped prefix and canonicalises IPv6', () => {
  assert.equal(normalizeIp('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(normalizeIp('::FFFF:10.0.0.1'), '10.0.0.1');
  assert.equal(normalizeIp('::ffff:c000:0207'), '192.0.2.7');
  assert.equal(normalizeIp('2001:DB8::1'), '2001:db8::1');
  assert.equal(normalizeIp('2001:0db8:0000::0001'), '2001:db8::1');
  assert.equal(normalizeIp(' 10.0.0.5 '), '10.0.0.5');
  assert.equal(normalizeIp('not an ip'), 'not an ip');
});

test('ipFamily reports 4, 6 or 0', () => {
  assert.equal(ipFamily('1.2.3.4'), 4);
  assert.equal(ipFamily('::ffff:1.2.3.4'), 4);
  assert.equal(ipFamily('::1'), 6);
  assert.equal(ipFamily('nope'), 0);
});

test('CidrList matches IPv4 ranges (C2)', () => {
  const list = CidrList.parse('192.168.0.0/16;10.0.0.0/8');
  assert.equal(list.contains('192.168.4.1'), true);
  assert.equal(list.contains('10.9.9.9'), true);
  assert.equal(list.contains('172.16.0.1'), false);
  assert.equal(list.size, 2);
  assert.deepEqual(list.entries, ['192.168.0.0/16', '10.0.0.0/8']);
});

test('CidrList: bare addresses are single hosts, IPv6 works, mapped peers check as IPv4', () => {
  const list = CidrList.parse(' 1.2.3.4 , 2001:DB8::/32; ::1 ');
  assert.equal(list.contains('1.2.3.4'), true);
  assert.equal(list.contains('1.2.3.5'), false);
  assert.equal(list.contains('::ffff:1.2.3.4'), true);
  assert.equal(list.contains('2001:db8:ffff::9'), true);
  assert.equal(list.contains('2001:db9::1'), false);
  assert.equal(list.contains('::1'), true);
  assert.equal(list.contains('::2'), false);
  assert.equal(list.contains('garbage'), false);
  assert.deepEqual(list.entries, ['1.2.3.4', '2001:db8::/32', '::1']);
  assert.equal(list.toString(), '1.2.3.4;2001:db8::/32;::1');
});

test('CidrList: IPv4-mapped ranges become IPv4 ranges', () => {
  const list = CidrList.parse('::ffff:10.0.0.0/104');
  assert.deepEqual(list.entries, ['10.0.0.0/8']);
  assert.equal(list.contains('10.1.2.3'), true);
});

test('CidrList: empty text gives an empty list that matches nothing', () => {
  for (const text of ['', '  ', ';', ' , ; ']) {
    const list = CidrList.parse(text);
    assert.equal(list.isEmpty, true);
    assert.equal(list.size, 0);
    assert.equal(list.contains('1.2.3.4'), false);
    assert.equal(list.toString(), '');
  }
});

test('CidrList: round-trips through toString and drops duplicates', () => {
  const list = CidrList.parse('10.0.0.0/8;10.0.0.0/8;1.2.3.4');
  assert.deepEqual(CidrList.parse(list.toString()).entries, list.entries);
  assert.equal(list.size, 2);
  assert.equal(JSON.stringify({ r: list }), '{"r":["10.0.0.0/8","1.2.3.4"]}');
});

test('CidrList: bad items throw naming the item', () => {
  assert.throws(() => CidrList.parse('10.0.0.0/8;bogus'), /"bogus"/);
  assert.throws(() => CidrList.parse('10.0.0.0/33'), /"10\.0\.0\.0\/33".*prefix/);
  assert.throws(() => CidrList.parse('::1/129'), /prefix/);
  assert.throws(() => CidrList.parse('10.0.0.0/'), /prefix/);
  assert.throws(() => CidrList.parse('10.0.0.0/x'), /prefix/);
  assert.throws(() => CidrList.parse('300.1.1.1'), /"300\.1\.1\.1"/);
});

test('CidrList is immutable', () => {
  const list = CidrList.parse('10.0.0.0/8');
  assert.equal(Object.isFrozen(list), true);
  assert.equal(Object.isFrozen(list.entries), true);
  assert.throws(() => {
    (list.entries as string[]).push('1.1.1.1');
  }, TypeError);
});
