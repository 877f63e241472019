import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import { startDnsServer, type DnsServer } from '../../../test/helpers/dns-server.js';
import { createResolver, DnsCache, DnsError, resolveMailHosts } from '../src/index.js';

let dns: DnsServer;

const ZONE = {
  mx: [
    { domain: 'example.test', host: 'mx1.example.test', preference: 10 },
    { domain: 'example.test', host: 'mx3.example.test', preference: 10 },
    { domain: 'example.test', host: 'mx2.example.test', preference: 20 },
    { domain: 'dangling.test', host: 'missing.dangling.test', preference: 10 },
  ],
  a: [
    { name: 'mx1.example.test', ip: '127.0.0.10' },
    { name: 'mx2.example.test', ip: '127.0.0.11' },
    { name: 'mx2.example.test', ip: '::1' },
    { name: 'mx3.example.test', ip: '127.0.0.12' },
    { name: 'aonly.test', ip: '127.0.0.20' },
  ],
  txt: [{ name: 'empty.test', text: 'no mail here' }],
  nullMx: ['nullmx.test'],
};

before(async () => {
  dns = await startDnsServer(ZONE);
});
after(() => dns.stop());

function resolverFor(server: string, extra: Record<string, string> = {}) {
  return createResolver(configFromValues({ 'dns-servers': server, 'dns-timeout': '1', 'dns-attempts': '1', ...extra }).config);
}

async function rejectsWith(promise: Promise<unknown>, expected: { transient: boolean; status?: string; code?: string }): Promise<DnsError> {
  const error = await promise.then(
    () => assert.fail('expected a DnsError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DnsError, `not a DnsError: ${String(error)}`);
  assert.equal(error.transient, expected.transient, error.message);
  assert.equal(error.state, 'dns');
  if (expected.status !== undefined) assert.equal(error.status, expected.status);
  if (expected.code !== undefined) assert.equal(error.code, expected.code);
  return error;
}

describe('createResolver', () => {
  test('uses dns-servers when given', () => {
    assert.deepEqual(resolverFor(dns.server).getServers(), [dns.server]);
  });
  test('keeps the system servers when dns-servers is empty', () => {
    const system = createResolver(configFromValues({}).config).getServers();
    assert.ok(Array.isArray(system));
  });
});

describe('resolveMailHosts', () => {
  test('orders MX hosts by preference, each with its A and AAAA addresses', async () => {
    const hosts = await resolveMailHosts(resolverFor(dns.server), 'example.test');
    assert.deepEqual(
      hosts.map((h) => h.preference),
      [10, 10, 20],
    );
    assert.deepEqual(new Set(hosts.slice(0, 2).map((h) => h.host)), new Set(['mx1.example.test', 'mx3.example.test']));
    assert.deepEqual(hosts[2], { host: 'mx2.example.test', preference: 20, addresses: ['127.0.0.11', '::1'] });
    assert.deepEqual(hosts.find((h) => h.host === 'mx1.example.test')?.addresses, ['127.0.0.10']);
  });

  test('shuffles hosts of equal preference', async () => {
    const resolver = resolverFor(dns.server);
    const firsts = new Set<string>();
    for (let i = 0; i < 30 && firsts.size < 2; i++) firsts.add((await resolveMailHosts(resolver, 'example.test'))[0]?.host ?? '');
    assert.deepEqual(firsts, new Set(['mx1.example.test', 'mx3.example.test']));
  });

  test('no MX records: the domain itself is the mail host (implicit MX)', async () => {
    assert.deepEqual(await resolveMailHosts(resolverFor(dns.server), 'aonly.test'), [
      { host: 'aonly.test', preference: 0, addresses: ['127.0.0.20'] },
    ]);
  });

  test('NXDOMAIN is permanent (fatal dns/error, 5.1.2)', async () => {
    await rejectsWith(resolveMailHosts(resolverFor(dns.server), 'nowhere.test'), { transient: false, status: '5.1.2', code: 'ENOTFOUND' });
  });

  test('a domain with neither MX nor A/AAAA is permanent', async () => {
    await rejectsWith(resolveMailHosts(resolverFor(dns.server), 'empty.test'), { transient: false, status: '5.1.2' });
  });

  test('a null MX is permanent', async () => {
    const error = await rejectsWith(resolveMailHosts(resolverFor(dns.server), 'nullmx.test'), { transient: false, status: '5.1.10' });
    assert.equal(error.responseCode, 556);
  });

  test('MX hosts without any address are permanent', async () => {
    await rejectsWith(resolveMailHosts(resolverFor(dns.server), 'dangling.test'), { transient: false });
  });

  test('an address literal routes to that address without DNS', async () => {
    const dead = resolverFor('127.0.0.1:1');
    assert.deepEqual(await resolveMailHosts(dead, '[192.0.2.1]'), [{ host: '192.0.2.1', preference: 0, addresses: ['192.0.2.1'] }]);
    assert.deepEqual(await resolveMailHosts(dead, '[IPv6:2001:DB8::1]'), [
      { host: '2001:db8::1', preference: 0, addresses: ['2001:db8::1'] },
    ]);
  });

  test('a refused connection to the server is transient', async () => {
    await rejectsWith(resolveMailHosts(resolverFor('127.0.0.1:1'), 'example.test'), { transient: true, status: '4.4.3' });
  });

  test('a server that never answers is transient', async () => {
    const silent = createSocket('udp4');
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      const resolver = resolverFor(`127.0.0.1:${silent.address().port}`, { 'dns-timeout': '0.1' });
      await rejectsWith(resolveMailHosts(resolver, 'example.test'), { transient: true, code: 'ETIMEOUT' });
    } finally {
      silent.close();
    }
  });
});

describe('DnsCache', () => {
  test('reuses answers and permanent failures after the server is gone, but not transient failures', async () => {
    const own = await startDnsServer(ZONE);
    const resolver = resolverFor(own.server);
    const cache = new DnsCache(resolver, { minTtl: 60 });
    const [hosts] = await Promise.all([cache.mailHosts('aonly.test'), cache.mailHosts('aonly.test')]);
    await rejectsWith(cache.mailHosts('nowhere.test'), { transient: false });
    assert.deepEqual(await cache.addresses('mx2.example.test'), ['127.0.0.11', '::1']);
    await own.stop();

    assert.deepEqual(await cache.mailHosts('aonly.test'), hosts);
    assert.deepEqual(await cache.addresses('mx2.example.test'), ['127.0.0.11', '::1']);
    await rejectsWith(cache.mailHosts('nowhere.test'), { transient: false });
    await rejectsWith(cache.mailHosts('example.test'), { transient: true });
    await rejectsWith(cache.mailHosts('example.test'), { transient: true });
  });

  test('entries expire after max(TTL, dns-min-ttl)', async () => {
    const own = await startDnsServer({ ...ZONE, ttl: 5 });
    let now = 1_000_000;
    const cache = new DnsCache(resolverFor(own.server), { minTtl: 2, now: () => now });
    await cache.mailHosts('aonly.test');
    await own.stop();
    now += 4_000;
    assert.equal((await cache.mailHosts('aonly.test')).length, 1);
    now += 2_000;
    await rejectsWith(cache.mailHosts('aonly.test'), { transient: true });
  });

  test('records(): TXT and A in dns.resolve shape, kept after the server is gone; NXDOMAIN kept with its code, timeouts not', async () => {
    const own = await startDnsServer({ ...ZONE, ttl: 5 });
    let now = 1_000_000;
    const cache = new DnsCache(resolverFor(own.server), { minTtl: 2, now: () => now });
    assert.deepEqual(await cache.records('empty.test', 'TXT'), [['no mail here']]);
    assert.deepEqual(await cache.records('mx2.example.test', 'A'), ['127.0.0.11']);
    await assert.rejects(cache.records('nowhere.test', 'TXT'), { code: 'ENOTFOUND' });
    await own.stop();
    assert.deepEqual(await cache.records('EMPTY.test', 'TXT'), [['no mail here']], 'names are case-insensitive');
    assert.deepEqual(await cache.records('mx2.example.test', 'A'), ['127.0.0.11']);
    await assert.rejects(cache.records('nowhere.test', 'TXT'), { code: 'ENOTFOUND' });
    // A keeps its TTL (5 s); other types, and absences, dns-min-ttl (2 s)
    now += 3_000;
    assert.deepEqual(await cache.records('mx2.example.test', 'A'), ['127.0.0.11']);
    await assert.rejects(cache.records('empty.test', 'TXT'), (err: { code?: string }) => err.code !== 'ENOTFOUND' && err.code !== undefined);
    await assert.rejects(cache.records('empty.test', 'TXT'), (err: { code?: string }) => err.code !== undefined, 'a transient failure is asked again, not kept');
  });
});
