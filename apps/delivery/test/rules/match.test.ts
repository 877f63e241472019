import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResultEntry } from '@mtaq/envelope';
import {
  applyResponsePatterns,
  bindsInstance,
  findForcedError,
  findPause,
  findSuppression,
  matchingPatterns,
  replyMatches,
  replyText,
  selects,
  type DeliveryFacts,
  type ResponsePattern,
} from '../../src/rules/index.js';

const facts: DeliveryFacts = { recipient: 'a@x.org', domain: 'x.org', source: '127.0.0.3', pool: 'bulk', remotes: ['192.0.2.10'], tags: ['cust-42'] };
const entry = (code: number, description: string, status?: string): ResultEntry =>
  ({ state: 'rcptto', result: 'error', time: '2026-01-01 00:00:00', code, ...(status ? { status } : {}), description, from: '127.0.0.3', to: '192.0.2.10' }) as ResultEntry;
const pattern = (p: Partial<ResponsePattern> & Pick<ResponsePattern, 'pattern'>): ResponsePattern => ({ match: 'substring', actions: {}, ...p });

describe('reply patterns: the four match types', () => {
  const reply = '550 5.7.1 Please try again later';
  test('exact: the whole reply, case-insensitive, outer spaces ignored', () => {
    assert.equal(replyMatches('550 5.7.1 please TRY again later ', 'exact', reply), true);
    assert.equal(replyMatches('try again later', 'exact', reply), false);
  });
  test('substring: anywhere, case-insensitive', () => {
    assert.equal(replyMatches('TRY AGAIN', 'substring', reply), true);
    assert.equal(replyMatches('try later', 'substring', reply), false);
  });
  test('wildcard: * ? [abc] [!abc], anchored to the whole reply; other characters literal', () => {
    assert.equal(replyMatches('5?0 *again later', 'wildcard', reply), true);
    assert.equal(replyMatches('5[45]0 *', 'wildcard', reply), true);
    assert.equal(replyMatches('5[!5]0 *', 'wildcard', reply), false);
    assert.equal(replyMatches('*again', 'wildcard', reply), false, 'anchored at the end');
    assert.equal(replyMatches('550 5.7.1*', 'wildcard', reply), true);
    assert.equal(replyMatches('550 5x7x1*', 'wildcard', reply), false, 'a dot is literal');
    assert.equal(replyMatches('[oops', 'wildcard', '[oops'), true, 'an unclosed [ is literal');
  });
  test('regex: searched in the reply; an invalid one never matches', () => {
    assert.equal(replyMatches('^5\\d\\d .*again', 'regex', reply), true);
    assert.equal(replyMatches('^4\\d\\d', 'regex', reply), false);
    assert.equal(replyMatches('(', 'regex', reply), false);
  });
  test('the reply as patterns see it: code, enhanced status, text', () => {
    assert.equal(replyText(entry(550, 'try again later', '5.7.1')), '550 5.7.1 try again later');
    assert.equal(replyText(entry(421, 'busy')), '421 busy');
  });
});

describe('response patterns: triggers, priority, continue', () => {
  const reply = '550 5.7.1 try again later';
  test('lower priority number first; without continue the first match ends evaluation', () => {
    const patterns = [
      pattern({ id: 'late', pattern: 'again', priority: 10 }),
      pattern({ id: 'early', pattern: 'try', priority: 1 }),
      pattern({ id: 'no', pattern: 'nomatch', priority: 0 }),
    ];
    assert.deepEqual(matchingPatterns(patterns, facts, reply).map((p) => p.id), ['early']);
  });
  test('continue: evaluation goes on to the next matching pattern; equal priority keeps table order', () => {
    const patterns = [
      pattern({ id: 'a', pattern: 'try', priority: 5, continue: true }),
      pattern({ id: 'b', pattern: 'again', priority: 5, continue: true }),
      pattern({ id: 'c', pattern: 'later', priority: 7 }),
      pattern({ id: 'd', pattern: 'later', priority: 9 }),
    ];
    assert.deepEqual(matchingPatterns(patterns, facts, reply).map((p) => p.id), ['a', 'b', 'c']);
  });
  test('triggers: source IP, pool, domain, tag must all match when given; * is any', () => {
    const ids = (p: Partial<ResponsePattern>): unknown[] => matchingPatterns([pattern({ id: 1, pattern: 'try', ...p })], facts, reply).map((x) => x.id);
    assert.deepEqual(ids({ mta: '127.0.0.3', domain: 'X.org', tag: 'cust-42' }), [1]);
    assert.deepEqual(ids({ pool: 'bulk', domain: '*' }), [1]);
    assert.deepEqual(ids({ mta: '127.0.0.4' }), []);
    assert.deepEqual(ids({ pool: 'other' }), []);
    assert.deepEqual(ids({ domain: 'y.org' }), []);
    assert.deepEqual(ids({ tag: 'cust-43' }), []);
    assert.deepEqual(ids({ ip: '192.0.2.10' }), [1]);
    assert.deepEqual(ids({ ip: '192.0.2.11' }), []);
  });
  test('C58 shape: fatal:false on a 550 makes it a retry; fail/retry after N; tags, ips and message properties', () => {
    const m = { recipient: 'a@x.org', tags: ['cust-42', 'old'], ips: ['127.0.0.3'], keep: 1, drop: 2, results: [] as unknown[] };
    const effect = applyResponsePatterns(
      [
        pattern({ id: 1, pattern: 'try again later', priority: 1, continue: true, actions: { properties: { fatal: false }, tags: { add: ['slow'], remove: ['old'] } } }),
        pattern({ id: 2, pattern: '550*', match: 'wildcard', priority: 2, actions: { result: 'retry', after: 120, ips: { set: ['127.0.0.5'], add: ['127.0.0.6'], remove: ['127.0.0.5'] }, message: { drop: null, added: 'x', results: 'no' } } }),
      ],
      m,
      entry(550, 'try again later', '5.7.1'),
      facts,
    );
    assert.deepEqual(effect.applied, [1, 2]);
    assert.equal(effect.entry.fatal, false);
    assert.equal(effect.retryAfter, 120);
    assert.deepEqual(effect.message.tags, ['cust-42', 'slow']);
    assert.deepEqual(effect.message.ips, ['127.0.0.6']);
    const out = effect.message as Record<string, unknown>;
    assert.equal(out['added'], 'x');
    assert.ok(!('drop' in out));
    assert.deepEqual(out['results'], [], 'delivery-owned properties are not written');
    assert.deepEqual(m.tags, ['cust-42', 'old'], 'the input is not changed');
    const fail = applyResponsePatterns([pattern({ pattern: '421', actions: { result: 'fail' } })], m, entry(421, 'busy'), facts);
    assert.equal(fail.entry.fatal, true);
    const none = applyResponsePatterns([pattern({ pattern: 'zzz', actions: { result: 'fail' } })], m, entry(421, 'busy'), facts);
    assert.equal(none.message, m);
    assert.deepEqual(none.applied, []);
  });
});

describe('suppressions, pauses, forced errors', () => {
  test('suppression: an address entry, else its domain; case-insensitive', () => {
    const entries = [
      { id: 1, type: 'domain' as const, value: 'x.net', code: 550 },
      { id: 2, type: 'address' as const, value: 'T@x.net', code: 551 },
    ];
    assert.equal(findSuppression(entries, 't@X.NET')?.id, 2);
    assert.equal(findSuppression(entries, 'u@x.net')?.id, 1);
    assert.equal(findSuppression(entries, 'u@y.net'), undefined);
  });
  test('selectors: a field delivery does not know yet does not match', () => {
    assert.equal(selects({ mta: '127.0.0.3' }, { recipient: 'a@x.org', domain: 'x.org', tags: [] }), false);
    assert.equal(selects({}, { recipient: 'a@x.org', domain: 'x.org', tags: [] }), true, 'all wildcards: everything');
  });
  test('cluster: true binds every instance, false only its owner', () => {
    assert.equal(bindsInstance({ cluster: true, owner: '7' }, '1'), true);
    assert.equal(bindsInstance({ cluster: false, owner: '7' }, '1'), false);
    assert.equal(bindsInstance({ cluster: false, owner: '7' }, '7'), true);
    const pauses = [{ id: 'a', domain: 'x.org', cluster: false, owner: '2' }, { id: 'b', domain: 'x.org', tag: 'cust-42' }];
    assert.equal(findPause(pauses, facts, '1')?.id, 'b');
    assert.equal(findPause(pauses, facts, '2')?.id, 'a');
    assert.equal(findForcedError([{ code: 421, domain: 'y.org' }], facts, '1'), undefined);
    assert.equal(findForcedError([{ code: 421, domain: 'x.org', pool: 'bulk' }], facts, '1')?.code, 421);
  });
});
