import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import { createResolver } from '@mtaq/dns';
import { SourceIps } from '../../src/routing/source-ip.js';
import { BindError } from '../../src/routing/errors.js';
import { Membership, DOWN_MEMORY_MS } from '../../src/cluster/membership.js';
import { AwaitOwner, ForwardTo, Placement } from '../../src/cluster/placement.js';
import { ownedIps, hopsOf } from '../../src/cluster/ownership.js';
import { parseClusterMessage, type Announcement } from '../../src/cluster/messages.js';

/** §9 placement over a table of peers, with a clock of the test's own (no broker needed here). */

function node(serverId: number, ips: string[], extra: Partial<Announcement> = {}): Announcement {
  return {
    'server-id': serverId,
    instance: `i${serverId}`,
    host: 'h',
    pid: 1,
    outbox: 'outbox',
    queue: `outbox.node.${serverId}`,
    ips,
    pools: [],
    time: new Date().toISOString(),
    ttl: 15,
    ...extra,
  };
}

function setup(values: Record<string, string>) {
  let now = 1_000_000;
  const config = configFromValues({ 'dns-servers': '127.0.0.1', 'dns-timeout': '1', 'dns-attempts': '1', ...values }).config;
  const sources = new SourceIps(config, createResolver(config));
  const owned = new Set(ownedIps(config));
  const self = node(1, [...owned]);
  const membership = new Membership(() => self, { now: () => now });
  const placement = new Placement(sources, membership, () => owned);
  return { membership, placement, advance: (ms: number) => (now += ms) };
}

describe('cluster placement', () => {
  test('alone: any bindable candidate, as before (§7.7)', async () => {
    const { placement } = setup({ 'smtp-default-ips': '127.0.1.1' });
    assert.deepEqual(await placement.usable({ ips: ['127.0.9.9'] }, 0), ['127.0.9.9']);
    await assert.rejects(placement.usable({ ips: ['203.0.113.250'] }, 0), BindError);
  });

  test("with peers: own IPs here, a live peer's forwarded, nobody's bind/error", async () => {
    const { membership, placement } = setup({ 'smtp-default-ips': '127.0.1.1' });
    membership.heard(node(2, ['127.0.2.1'], { pools: ['b'] }));
    assert.deepEqual(await placement.usable({ ips: ['127.0.1.1'] }, 0), ['127.0.1.1']);
    assert.deepEqual(await placement.usable({}, 0), ['127.0.1.1'], 'no ips: smtp-default-ips, owned');
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 0), (e) => e instanceof ForwardTo && e.node.queue === 'outbox.node.2');
    await assert.rejects(placement.usable({ pool: 'b' }, 0), (e) => e instanceof ForwardTo && e.node['server-id'] === 2, 'a pool only the peer knows');
    await assert.rejects(placement.usable({ ips: ['127.0.9.9'] }, 0), BindError, 'bindable here, but nobody owns it');
    await assert.rejects(placement.usable({ pool: 'nowhere' }, 0), BindError);
  });

  test('forwarded once: a message with hops waits instead of being forwarded again', async () => {
    const { membership, placement } = setup({ 'smtp-default-ips': '127.0.1.1' });
    membership.heard(node(2, ['127.0.2.1']));
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 1), AwaitOwner);
  });

  test('a peer that stops announcing is down after its ttl (mail waits), forgotten after a day (bind/error)', async () => {
    const { membership, placement, advance } = setup({ 'smtp-default-ips': '127.0.1.1' });
    membership.heard(node(2, ['127.0.2.1']));
    advance(14_000);
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 0), ForwardTo);
    advance(2_000);
    assert.equal(membership.peers()[0]!.state, 'down');
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 0), AwaitOwner);
    membership.heard(node(2, ['127.0.2.1']));
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 0), ForwardTo, 'back: forwarded again');
    membership.left(2, 'i2');
    await assert.rejects(placement.usable({ ips: ['127.0.2.1'] }, 0), AwaitOwner, 'goodbye: down at once');
    advance(DOWN_MEMORY_MS + 1);
    assert.equal(membership.peers().length, 0);
    // alone again: §7.7 as before (127/8 binds here)
    assert.deepEqual(await placement.usable({ ips: ['127.0.2.1'] }, 0), ['127.0.2.1']);
  });

  test('nodes on another outbox are another cluster; our own echo and a duplicate server-id are not peers', async () => {
    const { membership, placement } = setup({ 'smtp-default-ips': '127.0.1.1' });
    membership.heard(node(3, ['127.0.3.1'], { outbox: 'other' }));
    membership.heard(node(1, ['127.0.5.5'], { instance: 'someone-else' }));
    assert.equal(membership.cluster().length, 0);
    assert.deepEqual(await placement.usable({ ips: ['127.0.3.1'] }, 0), ['127.0.3.1']);
  });

  test('ownership: smtp-default-ips and ip-pools members, else the local addresses', () => {
    const config = (values: Record<string, string>) => configFromValues(values).config;
    assert.deepEqual(ownedIps(config({ 'smtp-default-ips': '127.0.1.1', 'ip-pools': 'a=127.0.1.2,127.0.1.1; b=::ffff:127.0.1.3' })), ['127.0.1.1', '127.0.1.2', '127.0.1.3']);
    assert.deepEqual(ownedIps(config({}), { lo: [{ address: '127.0.0.1', internal: true, family: 'IPv4', netmask: '', mac: '', cidr: null }], eth0: [{ address: '10.1.2.3', internal: false, family: 'IPv4', netmask: '', mac: '', cidr: null }] }), ['10.1.2.3']);
  });

  test('messages: hello request, announcement, goodbye, reload; anything else ignored', () => {
    assert.deepEqual(parseClusterMessage('{"hello": true}'), { kind: 'hello-request' });
    assert.deepEqual(parseClusterMessage('{"reload": true}'), { kind: 'reload' });
    assert.equal(parseClusterMessage(JSON.stringify({ hello: node(2, ['127.0.2.1']) }))?.kind, 'announcement');
    assert.equal(parseClusterMessage(JSON.stringify({ hello: { ...node(2, []), ttl: 0 } })), undefined);
    assert.deepEqual(parseClusterMessage('{"goodbye": {"server-id": 2, "instance": "x"}}'), { kind: 'goodbye', serverId: 2, instance: 'x' });
    assert.equal(parseClusterMessage('not json'), undefined);
    assert.equal(hopsOf({ 'x-mtaq-hops': 1 }), 1);
    assert.equal(hopsOf(undefined), 0);
  });
});
