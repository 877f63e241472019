import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText } from '@mtaq/config';
import { effectiveLimits, localShare } from '../src/index.js';
import { parseRules } from './helpers.js';

test('delivery-limits parses into typed rules and formats back', () => {
  const text = '* * connections=10; 10.0.0.5 X.org. connections=2 messages=100 ; bulk * messages=0;all x.org connections=20, 2001:DB8::1 y.org connections=1';
  const rules = parseRules(text);
  assert.deepEqual(rules, [
    { source: '*', domain: '*', connections: 10 },
    { source: '10.0.0.5', domain: 'x.org', connections: 2, messagesPerMinute: 100 },
    { source: 'bulk', domain: '*', messagesPerMinute: 0 },
    { source: 'all', domain: 'x.org', connections: 20 },
    { source: '2001:db8::1', domain: 'y.org', connections: 1 },
  ]);
  assert.deepEqual(parseRules(''), []);
  const { values } = parseConfigText(`delivery-limits: ${text}\n`, 'mtaq.conf');
  assert.deepEqual(values['delivery-limits'], rules);
});

test('the default is one connection budget of 10 for every source and domain', () => {
  assert.deepEqual(parseRules('* * connections=10'), [{ source: '*', domain: '*', connections: 10 }]);
});

test('bad delivery-limits rules are rejected with file:line and the reason', () => {
  const cases: [string, RegExp][] = [
    ['* *', /sets neither connections= nor messages=/],
    ['* x.org connections=ten', /"connections=ten" is not connections=N or messages=N/],
    ['* x.org bytes=10', /"bytes=10" is not connections=N or messages=N/],
    ['* x.org connections=1 connections=2', /connections is given twice/],
    ['connections=1', /SOURCE and DOMAIN come first/],
    ['* connections=1', /SOURCE and DOMAIN come first/],
    ['10.0.0.300 x.org connections=1', /"10.0.0.300" is neither an IP address nor a pool name/],
    ['po/ol x.org connections=1', /is neither an IP address nor a pool name/],
    ['* bad_domain!.org connections=1', /"bad_domain!.org" is not a domain name or \*/],
    ['* x.org connections=-1', /is not connections=N or messages=N/],
  ];
  for (const [rule, reason] of cases) {
    assert.throws(
      () => parseConfigText(`smtp-port: 25\ndelivery-limits: * * connections=10; ${rule}\n`, 'mtaq.conf'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.line, 2);
        assert.match(err.message, /mtaq\.conf:2/);
        assert.match(err.message, reason);
        return true;
      },
      rule,
    );
  }
});

test('C57: the most specific rule wins', () => {
  const rules = parseRules('10.0.0.5 x.org connections=2; * x.org connections=5; * * connections=10');
  assert.equal(effectiveLimits(rules, { source: '10.0.0.5', domain: 'x.org' }).perSource.connections, 2);
  assert.equal(effectiveLimits(rules, { source: '10.0.0.6', domain: 'x.org' }).perSource.connections, 5);
  assert.equal(effectiveLimits(rules, { source: '10.0.0.5', domain: 'y.org' }).perSource.connections, 10);
  // Rule order does not change specificity.
  const reversed = [...rules].reverse();
  assert.equal(effectiveLimits(reversed, { source: '10.0.0.5', domain: 'X.ORG' }).perSource.connections, 2);
});

test('specificity order: source+domain, domain only, source only, catch-all; earlier wins among equals', () => {
  const rules = parseRules('* * connections=10; 10.0.0.5 * connections=7; * x.org connections=5; * x.org connections=4; bulk x.org connections=3; 10.0.0.5 x.org connections=2');
  const at = (source: string, domain: string, pool?: string): number => effectiveLimits(rules, { source, pool, domain }).perSource.connections;
  assert.equal(at('10.0.0.9', 'x.org', 'bulk'), 3, 'pool + domain');
  assert.equal(at('10.0.0.5', 'x.org', 'bulk'), 3, 'IP and pool rules rank the same: the earlier one wins');
  assert.equal(at('10.0.0.5', 'x.org'), 2, 'IP + domain');
  assert.equal(at('10.0.0.9', 'x.org'), 5, 'domain only, earlier of two');
  assert.equal(at('10.0.0.5', 'y.org'), 7, 'source only');
  assert.equal(at('10.0.0.9', 'y.org'), 10, 'catch-all');
});

test('a field missing in the winning rule comes from the next less specific rule that sets it', () => {
  const rules = parseRules('* * connections=10 messages=100; 10.0.0.5 * messages=50; * x.org connections=5; 10.0.0.5 x.org connections=2; * big.org connections=0');
  assert.deepEqual(effectiveLimits(rules, { source: '10.0.0.5', domain: 'x.org' }).perSource, { connections: 2, messagesPerMinute: 50 });
  assert.deepEqual(effectiveLimits(rules, { source: '10.0.0.6', domain: 'x.org' }).perSource, { connections: 5, messagesPerMinute: 100 });
  // 0 is a value (unlimited), not "unset": it does not inherit 10.
  assert.deepEqual(effectiveLimits(rules, { source: '10.0.0.6', domain: 'big.org' }).perSource, { connections: Infinity, messagesPerMinute: 100 });
  assert.deepEqual(effectiveLimits([], { source: '10.0.0.6', domain: 'x.org' }).perSource, { connections: Infinity, messagesPerMinute: Infinity });
});

test('"all" rules give the destination-wide limit and do not affect the per-source one', () => {
  const rules = parseRules('* * connections=10; all x.org connections=20; all * connections=100 messages=1000');
  const x = effectiveLimits(rules, { source: '10.0.0.5', domain: 'x.org' });
  assert.deepEqual(x.destination, { connections: 20, messagesPerMinute: 1000 });
  assert.deepEqual(x.perSource, { connections: 10, messagesPerMinute: Infinity });
  assert.deepEqual(effectiveLimits(rules, { source: '10.0.0.5', domain: 'y.org' }).destination, { connections: 100, messagesPerMinute: 1000 });
  assert.deepEqual(effectiveLimits(parseRules('* * connections=10'), { source: '10.0.0.5', domain: 'x.org' }).destination, {
    connections: Infinity,
    messagesPerMinute: Infinity,
  });
});

test('the local share while Redis is down is limit / processes, at least 1', () => {
  assert.equal(localShare(10, 3), 3);
  assert.equal(localShare(2, 4), 1);
  assert.equal(localShare(Infinity, 4), Infinity);
});
