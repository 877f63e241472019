import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import { createResolver, DnsCache } from '@mtaq/dns';
import { dkimKey, signWithDkimpy } from '../../../../test/helpers/dkim.js';
import { startDnsServer, type DnsServer } from '../../../../test/helpers/dns-server.js';
import { budgetedResolver } from '../../src/checks/dns-budget.js';
import { checkRefusal } from '../../src/checks/reject-policy.js';
import { authenticateSender } from '../../src/checks/sender-auth.js';

let dns: DnsServer;
let deaf: dgram.Socket;
const key = dkimKey();

before(async () => {
  // a real UDP socket that answers nothing: the DKIM keys of reject.test live behind it
  deaf = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => deaf.bind(0, '127.0.0.1', resolve));
  dns = await startDnsServer({
    zones: ['test'],
    txt: [
      { name: 'reject.test', text: 'v=spf1 -all' },
      { name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
      { name: 's1._domainkey.ok.test', text: key.record },
      { name: 'ok.test', text: 'v=spf1 -all' },
    ],
    forward: [{ zone: '_domainkey.reject.test', server: `127.0.0.1#${deaf.address().port}` }],
  });
});
after(async () => {
  await dns.stop();
  deaf.close();
});

const facts = { ip: '192.0.2.7', helo: 'client.test', sender: 'a@reject.test', hostname: 'mx.test' };

test('DMARC without an aligned pass because a DKIM key lookup timed out is temperror, never a refusable fail', async () => {
  // the resolver gives up on the key (ETIMEOUT after 1 s) well within the message's budget
  const cache = new DnsCache(createResolver({ 'dns-servers': [dns.server], 'dns-timeout': 1, 'dns-attempts': 1 }), { minTtl: 60 });
  // the _dmarc record is already cached, as it is for a busy domain
  await cache.records('_dmarc.reject.test', 'TXT');
  const signed = signWithDkimpy('From: <a@reject.test>\r\nTo: <b@x.test>\r\nSubject: s\r\n\r\nbody\r\n', 'reject.test', 's1', key);
  const budget = AbortSignal.timeout(4000);
  const outcome = await authenticateSender(Buffer.from(signed, 'latin1'), facts, new Set(['spf', 'dkim', 'dmarc'] as const), budgetedResolver(cache, budget), () => budget.aborted);
  assert.equal(outcome.entries.find((e) => 'dkim' in e)!['dkim'], 'temperror', JSON.stringify(outcome.entries));
  assert.deepEqual(outcome.entries.find((e) => 'dmarc' in e), {
    dmarc: 'temperror',
    'header.from': 'reject.test',
    policy: 'reject',
    reason: 'no aligned pass, and SPF or DKIM could not be checked',
  });
  const config = configFromValues({ 'smtp-check': 'spf,dkim,dmarc', 'smtp-check-reject': 'dmarc' }).config;
  assert.equal(checkRefusal(config, { entries: outcome.entries, dmarc: outcome.dmarc, spam: undefined }, { authenticated: false, trusted: false }), undefined);
});

test('header.i is the signature\'s own i= tag, else @d', async () => {
  const cache = new DnsCache(createResolver({ 'dns-servers': [dns.server], 'dns-timeout': 2, 'dns-attempts': 1 }), { minTtl: 60 });
  const raw = 'From: <a@ok.test>\r\nTo: <b@x.test>\r\nSubject: s\r\n\r\nbody\r\n';
  const plain = signWithDkimpy(raw, 'ok.test', 's1', key);
  const withIdentity = signWithDkimpy(raw, 'ok.test', 's1', key, 'news@ok.test');
  const run = async (message: string) => {
    const budget = AbortSignal.timeout(2000);
    const outcome = await authenticateSender(Buffer.from(message, 'latin1'), { ...facts, sender: 'a@ok.test' }, new Set(['dkim'] as const), budgetedResolver(cache, budget), () => budget.aborted);
    return outcome.entries[0]!;
  };
  const a = await run(plain);
  assert.deepEqual([a['dkim'], a['header.i']], ['pass', '@ok.test']);
  const b = await run(withIdentity);
  assert.deepEqual([b['dkim'], b['header.i']], ['pass', 'news@ok.test']);
});

test('past the budget, answers the cache holds are still served; anything else fails at once', async () => {
  const cache = new DnsCache(createResolver({ 'dns-servers': [dns.server], 'dns-timeout': 1, 'dns-attempts': 1 }), { minTtl: 60 });
  await cache.records('ok.test', 'TXT');
  const spent = AbortSignal.abort();
  const resolve = budgetedResolver(cache, spent);
  assert.deepEqual(await resolve('ok.test', 'TXT'), [['v=spf1 -all']]);
  const started = Date.now();
  await assert.rejects(resolve('s1._domainkey.ok.test', 'TXT'), { code: 'ETIMEOUT' });
  assert.ok(Date.now() - started < 100);
});
