import assert from 'node:assert/strict';
import { test } from 'node:test';
import { receivedHeader, receivedProtocol, rfc5322Date } from '../src/index.js';

const date = new Date(Date.UTC(2026, 10, 21, 21, 5, 0));

test('single recipient, ESMTPS', () => {
  assert.equal(
    receivedHeader({
      from: 'client.example',
      remoteIp: '192.0.2.7',
      hostname: 'mx.example.net',
      protocol: 'ESMTPS',
      id: 'k3x9q2ab',
      recipient: 'bob@example.org',
      date,
    }),
    'Received: from client.example ([192.0.2.7])\r\n\tby mx.example.net (mtaq) with ESMTPS id k3x9q2ab\r\n' +
      '\tfor <bob@example.org>; Sat, 21 Nov 2026 21:05:00 +0000\r\n',
  );
});

test('TLS details, IPv6 peer, no recipient', () => {
  const h = receivedHeader({
    from: 'client.example',
    remoteIp: '2001:db8::7',
    hostname: 'mx.example.net',
    protocol: 'ESMTPSA',
    id: 'abc12345',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    date,
  });
  assert.equal(
    h,
    'Received: from client.example ([IPv6:2001:db8::7])\r\n\tby mx.example.net (mtaq) with ESMTPSA id abc12345\r\n' +
      '\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384); Sat, 21 Nov 2026 21:05:00 +0000\r\n',
  );
});

test('a hostile HELO cannot inject header lines; mapped IPv4 is shown as IPv4', () => {
  const h = receivedHeader({
    from: 'evil\r\nX-Injected: yes',
    remoteIp: '::ffff:192.0.2.9',
    hostname: 'mx.example.net',
    protocol: 'SMTP',
    id: 'abc12345',
    recipient: 'a@b\r\nX-Bad: 1',
    date,
  });
  assert.equal(h.split('\r\n').filter((l) => l !== '' && !l.startsWith('\t')).length, 1);
  assert.ok(h.startsWith('Received: from [192.0.2.9] (helo=evil__X-Injected:_yes)\r\n'));
  assert.ok(!/\n(?!\t|$)/.test(h));
});

test('receivedProtocol', () => {
  assert.equal(receivedProtocol({ esmtp: false }), 'SMTP');
  assert.equal(receivedProtocol({ esmtp: true }), 'ESMTP');
  assert.equal(receivedProtocol({ esmtp: true, tls: true, auth: true }), 'ESMTPSA');
  assert.equal(receivedProtocol({ esmtp: true, tls: true, utf8: true }), 'UTF8SMTPS');
});

test('rfc5322Date: UTC with +0000; dates in the same second share the text, any other second gets its own', () => {
  const at = (ms: number): string => rfc5322Date(new Date(Date.UTC(2026, 10, 21, 21, 5, 0) + ms));
  assert.equal(at(100), 'Sat, 21 Nov 2026 21:05:00 +0000');
  assert.equal(at(999), 'Sat, 21 Nov 2026 21:05:00 +0000');
  assert.equal(at(1000), 'Sat, 21 Nov 2026 21:05:01 +0000');
  assert.equal(at(0), 'Sat, 21 Nov 2026 21:05:00 +0000');
  assert.equal(at(-1), 'Sat, 21 Nov 2026 21:04:59 +0000');
  assert.equal(at(86_400_000), 'Sun, 22 Nov 2026 21:05:00 +0000');
});
