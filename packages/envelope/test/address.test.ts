import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidMailbox } from '../src/address.js';

test('strict mailboxes follow RFC 5321; loose only needs local@domain (C19)', () => {
  for (const ok of ['a@example.com', 'first.last+tag@sub.example.org', '"a b"@example.com', 'x@[192.0.2.1]', 'jörg@exämple.org', "o'neil@example.com"]) {
    assert.ok(isValidMailbox(ok, 'strict'), ok);
  }
  for (const bad of ['a..b@example.com', '.a@example.com', 'a.@example.com', 'a@-example.com', 'a@example..com', 'a b@example.com', '@example.com', 'a@', `${'x'.repeat(65)}@example.com`]) {
    assert.ok(!isValidMailbox(bad, 'strict'), bad);
  }
  assert.ok(isValidMailbox('a..b@example.com', 'loose'));
  assert.ok(!isValidMailbox('a..b@', 'loose'));
  assert.ok(!isValidMailbox('no-at-sign', 'loose'));
});
