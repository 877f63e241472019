import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, resultEntry, synthesiseStatus, type AttemptOutcome } from '../../src/outcome/index.js';
import { T } from './helpers.js';

const c = (o: AttemptOutcome): string => classify(resultEntry(o, T));

test('classification by reply code (§7.2)', () => {
  assert.equal(c({ state: 'message', result: 'accepted', code: 250 }), 'accepted');
  assert.equal(c({ state: 'rcptto', result: 'error', code: 550 }), 'fatal');
  assert.equal(c({ state: 'ehlo', result: 'error', code: 554 }), 'fatal');
  assert.equal(c({ state: 'rcptto', result: 'error', code: 451 }), 'retry');
  assert.equal(c({ state: 'intro', result: 'error', code: 421 }), 'retry');
  assert.equal(c({ state: 'data', result: 'error', code: 354 }), 'retry');
});

test('classification without a reply: network retries, local conditions fatal', () => {
  for (const result of ['timeout', 'lost', 'invalid'] as const) {
    assert.equal(c({ state: 'message', result }), 'retry', result);
    assert.equal(c({ state: 'connect', result }), 'retry', result);
  }
  assert.equal(c({ state: 'connect', result: 'error', description: 'ECONNREFUSED' }), 'retry');
  assert.equal(c({ state: 'starttls', result: 'error', description: 'handshake failed' }), 'retry');
  assert.equal(c({ state: 'dns', result: 'timeout' }), 'retry');
  assert.equal(c({ state: 'dns', result: 'error' }), 'fatal');
  assert.equal(c({ state: 'dns', result: 'error', code: 451, status: '4.4.3' }), 'retry', "routing's transient DnsError");
  assert.equal(c({ state: 'bind', result: 'error' }), 'fatal');
  assert.equal(c({ state: 'process', result: 'error' }), 'fatal');
  assert.equal(c({ state: 'process', result: 'timeout' }), 'fatal');
  assert.equal(c({ state: 'storage', result: 'error' }), 'fatal');
  assert.equal(c({ state: 'storage', result: 'timeout' }), 'retry');
  assert.equal(c({ state: 'responsive', result: 'error' }), 'fatal');
  assert.equal(c({ state: 'suppression', result: 'error', code: 551, status: '5.1.1', description: 'Spamtrap' }), 'fatal');
  // A permanent local condition can be reported through its status alone.
  assert.equal(c({ state: 'starttls', result: 'error', status: '5.7.10' }), 'fatal');
});

test('response-pattern flags override the reply (C58), but never an acceptance', () => {
  assert.equal(c({ state: 'rcptto', result: 'error', code: 550, fatal: false }), 'retry');
  assert.equal(c({ state: 'rcptto', result: 'error', code: 450, fatal: true }), 'fatal');
  assert.equal(c({ state: 'rcptto', result: 'error', code: 550, greylisted: true }), 'retry');
  assert.equal(c({ state: 'message', result: 'accepted', code: 250, fatal: true }), 'accepted');
});

test('resultEntry copies remote values and synthesises only a status (I12)', () => {
  assert.deepEqual(resultEntry({ state: 'rcptto', result: 'error', code: 451, status: '5.0.0', description: 'x' }, T).status, '5.0.0', 'remote values are copied, even odd ones');
  assert.equal(resultEntry({ state: 'rcptto', result: 'error', code: 451 }, T).status, '4.0.0');
  assert.equal(resultEntry({ state: 'rcptto', result: 'error', code: 550, status: '' }, T).status, '5.0.0');
  assert.equal(resultEntry({ state: 'message', result: 'accepted', code: 250 }, T).status, '2.0.0');
  const dns = resultEntry({ state: 'dns', result: 'error', description: 'no MX or A for x.invalid' }, T);
  assert.deepEqual(dns, { state: 'dns', result: 'error', time: '2024-05-01 10:00:00', status: '5.1.2', description: 'no MX or A for x.invalid' });
  assert.equal(resultEntry({ state: 'dns', result: 'timeout' }, T).status, '4.4.3');
  assert.equal(resultEntry({ state: 'connect', result: 'timeout' }, T).status, '4.4.1');
  assert.equal(resultEntry({ state: 'data', result: 'lost' }, T).status, '4.4.2');
  assert.equal(resultEntry({ state: 'bind', result: 'error' }, T).status, '5.4.0');
  // The class follows an override, so the status never contradicts what happens to the message.
  assert.equal(synthesiseStatus({ state: 'connect', result: 'timeout', fatal: true }), '5.4.1');
  const noConnection = resultEntry({ state: 'bind', result: 'error' }, T);
  for (const key of ['code', 'mta', 'from', 'to']) assert.equal(key in noConnection, false, key);
});
