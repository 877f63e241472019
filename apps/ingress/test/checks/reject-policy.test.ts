import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import { checkRefusal } from '../../src/checks/reject-policy.js';
import type { ChecksOutcome } from '../../src/checks/inbound-checks.js';

const outsider = { authenticated: false, trusted: false };
const dmarcFail = (policy: string, pct?: number): ChecksOutcome => ({ entries: [], spam: undefined, dmarc: { result: 'fail', domain: 'x.example', policy, pct } });
const spam = (score: number, required = 5): ChecksOutcome => ({ entries: [], dmarc: undefined, spam: { spam: score >= required, score, required } });
const config = (values: Record<string, string>) => configFromValues(values).config;

test('without smtp-check-reject nothing is ever refused (C28: checks annotate)', () => {
  const c = config({});
  assert.equal(checkRefusal(c, dmarcFail('reject'), outsider), undefined);
  assert.equal(checkRefusal(c, spam(100), outsider), undefined);
});

test('dmarc: only a failure under p=reject, from an unauthenticated untrusted client, honouring pct=', () => {
  const c = config({ 'smtp-check': 'dmarc', 'smtp-check-reject': 'dmarc' });
  assert.deepEqual(checkRefusal(c, dmarcFail('reject'), outsider), { code: 550, status: '5.7.1', text: 'message refused: it fails the DMARC policy (p=reject) of x.example' });
  assert.equal(checkRefusal(c, dmarcFail('quarantine'), outsider), undefined);
  assert.equal(checkRefusal(c, dmarcFail('none'), outsider), undefined);
  assert.equal(checkRefusal(c, { entries: [], spam: undefined, dmarc: { result: 'pass', domain: 'x.example', policy: 'reject', pct: undefined } }, outsider), undefined);
  assert.equal(checkRefusal(c, dmarcFail('reject'), { authenticated: true, trusted: false }), undefined);
  assert.equal(checkRefusal(c, dmarcFail('reject'), { authenticated: false, trusted: true }), undefined);
  assert.equal(checkRefusal(c, dmarcFail('reject', 30), outsider, () => 0.5), undefined, 'outside the 30 % sample');
  assert.equal(checkRefusal(c, dmarcFail('reject', 30), outsider, () => 0.2)?.code, 550, 'inside it');
  assert.equal(checkRefusal(c, spam(100), outsider), undefined, 'spam is not listed');
});

test('spam: at or above spamd\'s required score, or smtp-check-reject-score when set', () => {
  const own = config({ 'smtp-check': 'spam', 'smtp-check-reject': 'spam' });
  assert.equal(checkRefusal(own, spam(4.9), outsider), undefined);
  assert.deepEqual(checkRefusal(own, spam(5), outsider), { code: 550, status: '5.7.1', text: 'message refused as spam (score 5, threshold 5)' });
  const higher = config({ 'smtp-check': 'spam', 'smtp-check-reject': 'spam', 'smtp-check-reject-score': '10' });
  assert.equal(checkRefusal(higher, spam(9), outsider), undefined);
  assert.equal(checkRefusal(higher, spam(12.5), outsider)?.text, 'message refused as spam (score 12.5, threshold 10)');
  assert.equal(checkRefusal(higher, { entries: [], dmarc: undefined, spam: undefined }, outsider), undefined, 'no verdict (temperror): accepted');
});
