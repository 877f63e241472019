import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticationResults, withoutForgedResults } from '../../src/checks/authentication-results.js';

test('one method per folded line, RFC 8601 property names, reasons and the DMARC policy as comments', () => {
  const field = authenticationResults('mx.example.net', [
    { spf: 'pass', 'smtp.mailfrom': 'a@x.example' },
    { dkim: 'fail', domain: 'x.example', selector: 's1', 'header.i': '@x.example', 'header.b': 'AbC+/1=2', reason: 'body hash (did) not verify' },
    { arc: 'none' },
    { dmarc: 'fail', 'header.from': 'x.example', policy: 'reject' },
    { spam: 'spam', score: 7.5, required: 5 },
  ]);
  assert.equal(
    field,
    'Authentication-Results: mx.example.net;\r\n' +
      '\tspf=pass smtp.mailfrom=a@x.example;\r\n' +
      '\tdkim=fail (body hash  did  not verify) header.d=x.example header.s=s1 header.i=@x.example header.b="AbC+/1=2";\r\n' +
      '\tarc=none;\r\n' +
      '\tdmarc=fail (p=reject) header.from=x.example\r\n',
  );
});

test('no method run: "none"; values outside the token syntax are quoted', () => {
  assert.equal(authenticationResults('mx.example.net', [{ spam: 'ham', score: 1, required: 5 }]), 'Authentication-Results: mx.example.net; none\r\n');
  assert.match(authenticationResults('h', [{ spf: 'none', 'smtp.helo': 'odd name;"x"' }]), /spf=none smtp\.helo="odd name;\\"x\\""/);
});

test('fields claiming our authserv-id are removed, in any case and with comments; others and the body stay byte for byte', () => {
  const message = Buffer.from(
    'Authentication-Results: MX.Example.NET; spf=pass\r\n' +
      'Received: from a\r\n' +
      'Authentication-Results: (forged) mx.example.net (1.0);\r\n dkim=pass header.d=bank.example\r\n' +
      'Authentication-Results: mx.example.net.evil; spf=pass\r\n' +
      'Authentication-Results: other.example; spf=fail\r\n' +
      'Subject: Authentication-Results: mx.example.net;\r\n' +
      '\r\n' +
      'Authentication-Results: mx.example.net; in the body\r\n',
  );
  assert.equal(
    withoutForgedResults(message, 'mx.example.net').toString(),
    'Received: from a\r\n' +
      'Authentication-Results: mx.example.net.evil; spf=pass\r\n' +
      'Authentication-Results: other.example; spf=fail\r\n' +
      'Subject: Authentication-Results: mx.example.net;\r\n' +
      '\r\n' +
      'Authentication-Results: mx.example.net; in the body\r\n',
  );
  const clean = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  assert.equal(withoutForgedResults(clean, 'mx.example.net'), clean, 'nothing to remove: the same buffer, no copy');
});

test('forgeries a looser reading would miss: nested comments, a quoted id, a trailing root dot', () => {
  const forged = [
    'Authentication-Results: (a(b)) mx.example.net; spf=pass\r\n',
    'Authentication-Results: "mx.example.net"; spf=pass\r\n',
    'Authentication-Results: MX.example.net. ; spf=pass\r\n',
    'Authentication-Results: (c) "MX.Example.Net" (d(e)); dkim=pass\r\n',
  ];
  const kept = 'Authentication-Results: "mx.example.net.evil"; spf=pass\r\n';
  const message = Buffer.from(`${forged.join('')}${kept}Subject: s\r\n\r\nbody\r\n`);
  assert.equal(withoutForgedResults(message, 'mx.example.net').toString(), `${kept}Subject: s\r\n\r\nbody\r\n`);
});

test('values outside token or address syntax are quoted, controls never reach the field', () => {
  const field = authenticationResults('mx.example.net', [
    { dkim: 'pass', domain: 'x.example', selector: 's1\r\nX-Evil: 1', 'header.i': 'user@x.example', 'header.b': 'AbC+/1=2', reason: 'bad\r\n(nested)\u0000' },
  ]);
  assert.equal(field, 'Authentication-Results: mx.example.net;\r\n\tdkim=pass (bad  nested) header.d=x.example header.s="s1 X-Evil: 1" header.i=user@x.example header.b="AbC+/1=2"\r\n');
});
