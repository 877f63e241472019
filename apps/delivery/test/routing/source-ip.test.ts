import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import type { OutgoingMessage } from '@mtaq/envelope';
import { startDnsServer, type DnsServer } from '../../../../test/helpers/dns-server.js';
import { createResolver } from '@mtaq/dns';
import { BindError } from '../../src/routing/errors.js';
import { localAddresses } from '../../src/routing/local-address.js';
import { SourceIps } from '../../src/routing/source-ip.js';

let dns: DnsServer;

before(async () => {
  dns = await startDnsServer({ a: [{ name: 'mta7.example.test', ip: '127.0.0.7' }] });
});
after(() => dns.stop());

const NON_LOCAL = '203.0.113.250';

function sources(values: Record<string, string> = {}): SourceIps {
  const config = configFromValues({ 'dns-servers': dns.server, 'dns-timeout': '1', 'dns-attempts': '1', ...values }).config;
  return new SourceIps(config, createResolver(config));
}

function isBindError(e: unknown): boolean {
  return e instanceof BindError && e.state === 'bind' && !e.transient;
}

const msg = (extra: Partial<OutgoingMessage>): Pick<OutgoingMessage, 'ips' | 'pool'> => extra;

describe('candidates (§7.7 priority order)', () => {
  test('C46: an empty ips array fails with BindError', async () => {
    const s = sources({ 'smtp-default-ips': '127.0.0.6' });
    assert.throws(() => s.candidates(msg({ ips: [] })), isBindError);
    await assert.rejects(s.usable(msg({ ips: [] })), isBindError);
  });

  test('C46: only non-local ips fail with BindError, with no fallback to defaults', async () => {
    const s = sources({ 'smtp-default-ips': '127.0.0.6' });
    assert.deepEqual(s.candidates(msg({ ips: [NON_LOCAL] })), [NON_LOCAL]);
    await assert.rejects(s.usable(msg({ ips: [NON_LOCAL] })), (e: unknown) => isBindError(e) && (e as BindError).candidates[0] === NON_LOCAL);
  });

  test('non-local ips are dropped when a local one remains', async () => {
    assert.deepEqual(await sources().usable(msg({ ips: [NON_LOCAL, '127.0.0.3'] })), ['127.0.0.3']);
  });

  test('pools from the rule database merge with ip-pools: a pool in either is known, members are the union', () => {
    const config = configFromValues({ 'dns-servers': dns.server, 'ip-pools': 'bulk=127.0.0.8' }).config;
    let table: ReadonlyMap<string, readonly string[]> = new Map([
      ['bulk', ['127.0.0.9']],
      ['tx', ['127.0.0.10']],
    ]);
    const s = new SourceIps(config, createResolver(config), { tablePools: () => table });
    assert.deepEqual(s.candidates(msg({ pool: 'bulk' })), ['127.0.0.8', '127.0.0.9']);
    assert.deepEqual(s.candidates(msg({ pool: 'tx' })), ['127.0.0.10']);
    table = new Map();
    assert.throws(() => s.candidates(msg({ pool: 'tx' })), isBindError, 'a reload that drops the pool is seen at once');
    assert.deepEqual(s.candidates(msg({ pool: 'bulk' })), ['127.0.0.8']);
  });

  test('C47: ips wins over pool', async () => {
    const s = sources({ 'ip-pools': 'bulk=127.0.0.8' });
    assert.deepEqual(await s.usable(msg({ ips: ['127.0.0.5'], pool: 'bulk' })), ['127.0.0.5']);
    assert.deepEqual(s.candidates(msg({ ips: ['127.0.0.5'], pool: 'unknown' })), ['127.0.0.5']);
  });

  test('a non-array ips is ignored', () => {
    const s = sources({ 'smtp-default-ips': '127.0.0.6' });
    assert.deepEqual(s.candidates({ ips: '127.0.0.5' } as unknown as OutgoingMessage), ['127.0.0.6']);
  });

  test('pool members come from ip-pools; an unknown pool is a BindError', async () => {
    const s = sources({ 'ip-pools': 'bulk=127.0.0.8,127.0.0.9; trans=127.0.0.4', 'smtp-default-ips': '127.0.0.6' });
    assert.deepEqual(await s.usable(msg({ pool: 'bulk' })), ['127.0.0.8', '127.0.0.9']);
    assert.throws(() => s.candidates(msg({ pool: 'nope' })), isBindError);
  });

  test('C48: smtp-default-ips are the candidates when the message names none', async () => {
    const s = sources({ 'smtp-default-ips': '127.0.0.6;127.0.0.7' });
    assert.deepEqual(s.candidates(msg({})), ['127.0.0.6', '127.0.0.7']);
    const usable = await s.usable(msg({}));
    assert.deepEqual(usable, ['127.0.0.6', '127.0.0.7']);
    assert.deepEqual(new Set([s.pick(usable), s.pick(usable)]), new Set(['127.0.0.6', '127.0.0.7']));
  });

  test('otherwise all local addresses', async () => {
    const usable = await sources().usable(msg({}));
    assert.ok(usable.length > 0);
    assert.deepEqual(usable, localAddresses());
  });
});

describe('localAddresses', () => {
  test('non-internal IPv4 first, IPv6 link-local skipped, loopback only as a last resort', () => {
    const table = {
      lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '', mac: '', cidr: null }],
      eth0: [
        { address: 'fe80::1', family: 'IPv6', internal: false, netmask: '', mac: '', cidr: null, scopeid: 2 },
        { address: '2001:db8::5', family: 'IPv6', internal: false, netmask: '', mac: '', cidr: null, scopeid: 0 },
        { address: '192.0.2.5', family: 'IPv4', internal: false, netmask: '', mac: '', cidr: null },
      ],
    } as const;
    assert.deepEqual(localAddresses(table as unknown as Parameters<typeof localAddresses>[0]), ['192.0.2.5', '2001:db8::5']);
    assert.deepEqual(localAddresses({ lo: table.lo } as unknown as Parameters<typeof localAddresses>[0]), ['127.0.0.1']);
  });
});

describe('isLocal / pick', () => {
  test('all of 127.0.0.0/8 binds on Linux; documentation and wildcard addresses do not', async () => {
    const s = sources();
    assert.equal(await s.isLocal('127.0.0.2'), true);
    assert.equal(await s.isLocal('127.0.0.3'), true);
    assert.equal(await s.isLocal(NON_LOCAL), false);
    assert.equal(await s.isLocal('0.0.0.0'), false);
    assert.equal(await s.isLocal('not-an-ip'), false);
  });

  test('pick rotates and honours the address family', () => {
    const s = sources();
    assert.equal(s.pick(['127.0.0.6', '::1'], 6), '::1');
    assert.equal(s.pick(['127.0.0.6'], 6), undefined);
    assert.equal(s.pick([]), undefined);
  });
});

describe('ehloName', () => {
  test('ehlo-names entry, then PTR, then smtp-hostname', async () => {
    const s = sources({ 'ehlo-names': '127.0.0.5=mta5.example.test', 'smtp-hostname': 'fallback.example.test' });
    assert.equal(await s.ehloName('127.0.0.5'), 'mta5.example.test');
    assert.equal(await s.ehloName('127.0.0.7'), 'mta7.example.test');
    assert.equal(await s.ehloName('127.0.0.99'), 'fallback.example.test');
  });

  test('a name server that does not answer only costs the PTR timeout', async () => {
    const config = configFromValues({ 'dns-servers': '127.0.0.1:1', 'smtp-hostname': 'fallback.example.test' }).config;
    const s = new SourceIps(config, undefined, { ptrTimeoutMs: 200 });
    const started = Date.now();
    assert.equal(await s.ehloName('127.0.0.7'), 'fallback.example.test');
    assert.ok(Date.now() - started < 2000);
  });
});
