import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { configFromValues } from '@mtaq/config';
import type { OutgoingMessage } from '@mtaq/envelope';
import { startDnsServer, type DnsServer } from '../../../../test/helpers/dns-server.js';
import { createResolver, DnsError } from '@mtaq/dns';
import { Router, SMARTHOST_DESTINATION, type Route, type SmtpRoute } from '../../src/routing/route.js';

let dns: DnsServer;

before(async () => {
  dns = await startDnsServer({
    mx: [
      { domain: 'example.test', host: 'mx1.example.test', preference: 10 },
      { domain: 'example.test', host: 'mx2.example.test', preference: 20 },
      // Hosted on the same MXes, listed the other way round: one destination for both domains.
      { domain: 'alias.test', host: 'mx2.example.test', preference: 5 },
      { domain: 'alias.test', host: 'mx1.example.test', preference: 50 },
    ],
    a: [
      { name: 'mx1.example.test', ip: '127.0.0.10' },
      { name: 'mx2.example.test', ip: '127.0.0.11' },
      { name: 'aonly.test', ip: '127.0.0.20' },
      { name: 'relay.test', ip: '127.0.0.30' },
      { name: 'other-relay.test', ip: '127.0.0.32' },
      { name: 'sink.test', ip: '127.0.0.31' },
    ],
  });
});
after(() => dns.stop());

function router(values: Record<string, string> = {}): Router {
  const config = configFromValues({ 'dns-servers': dns.server, 'dns-timeout': '1', 'dns-attempts': '1', ...values }).config;
  return new Router(config, createResolver(config));
}

function message(recipient: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { envelope: 'sender@origin.test', recipient, mime: 'Subject: x\r\n\r\nx', ...extra };
}

function smtp(route: Route): SmtpRoute {
  assert.equal(route.kind, 'smtp');
  return route as SmtpRoute;
}

describe('delivery-method', () => {
  test('auto without smarthost or sink writes to the folder', async () => {
    assert.deepEqual(await router({ 'delivery-folder': '/tmp/out' }).route(message('a@example.test')), { kind: 'folder', folder: '/tmp/out' });
  });

  test('folder wins over a configured and a per-message smarthost', async () => {
    const route = await router({ 'delivery-method': 'folder', smarthost: 'relay.test' }).route(
      message('a@example.test', { smarthost: { hostname: 'relay.test' } }),
    );
    assert.equal(route.kind, 'folder');
  });

  test('auto sends a message that carries its own smarthost', async () => {
    const route = smtp(await router().route(message('a@example.test', { smarthost: { hostname: 'relay.test' } })));
    assert.equal(route.via, 'smarthost');
  });

  test('auto with a configured sink or smarthost uses SMTP', async () => {
    assert.equal((await router({ 'smtp-sink-address': 'sink.test' }).route(message('a@example.test'))).kind, 'smtp');
    assert.equal((await router({ smarthost: 'relay.test' }).route(message('a@example.test'))).kind, 'smtp');
  });
});

describe('MX routing (delivery-method smtp)', () => {
  test('connects to the MX hosts in preference order, on port 25', async () => {
    const route = smtp(await router({ 'delivery-method': 'smtp' }).route(message('Someone@Example.TEST')));
    assert.deepEqual(route, {
      kind: 'smtp',
      domain: 'example.test',
      destination: 'mx1.example.test,mx2.example.test',
      hosts: [
        { host: 'mx1.example.test', port: 25, addresses: ['127.0.0.10'] },
        { host: 'mx2.example.test', port: 25, addresses: ['127.0.0.11'] },
      ],
      via: 'mx',
    });
  });

  test('domains sharing MX hosts share a destination but keep their own domain', async () => {
    const r = router({ 'delivery-method': 'smtp' });
    const alias = smtp(await r.route(message('b@alias.test')));
    assert.equal(alias.destination, 'mx1.example.test,mx2.example.test');
    assert.equal(alias.domain, 'alias.test');
    assert.equal(alias.hosts[0]?.host, 'mx2.example.test');
  });

  test('implicit MX: the destination is the domain', async () => {
    const route = smtp(await router({ 'delivery-method': 'smtp' }).route(message('c@aonly.test')));
    assert.equal(route.destination, 'aonly.test');
    assert.deepEqual(route.hosts, [{ host: 'aonly.test', port: 25, addresses: ['127.0.0.20'] }]);
  });

  test('an address literal goes to that address', async () => {
    const route = smtp(await router({ 'delivery-method': 'smtp' }).route(message('postmaster@[127.0.0.40]')));
    assert.equal(route.destination, '[127.0.0.40]');
    assert.deepEqual(route.hosts, [{ host: '127.0.0.40', port: 25, addresses: ['127.0.0.40'] }]);
  });

  test('NXDOMAIN is a permanent DnsError', async () => {
    await assert.rejects(router({ 'delivery-method': 'smtp' }).route(message('d@nowhere.test')), (e: unknown) => {
      return e instanceof DnsError && !e.transient && e.status === '5.1.2';
    });
  });
});

describe('smarthost', () => {
  test('C52: the message smarthost wins over config, with AUTH, and no MX lookup', async () => {
    const route = smtp(
      await router({ smarthost: 'other-relay.test', 'smarthost-username': 'cfg', 'smarthost-password': 'cfgpass' }).route(
        // nowhere.test would be NXDOMAIN: routing succeeds only if its MX is never asked for.
        message('e@nowhere.test', { smarthost: { hostname: 'relay.test', port: 2525, username: 'u', password: 'p' } }),
      ),
    );
    assert.deepEqual(route, {
      kind: 'smtp',
      domain: 'nowhere.test',
      destination: SMARTHOST_DESTINATION,
      hosts: [{ host: 'relay.test', port: 2525, addresses: ['127.0.0.30'] }],
      auth: { user: 'u', pass: 'p' },
      via: 'smarthost',
    });
  });

  test('a string port and the default port 25 are accepted', async () => {
    const r = router();
    const withString = { hostname: 'relay.test', port: '2526' } as unknown as OutgoingMessage['smarthost'];
    assert.equal(smtp(await r.route(message('f@nowhere.test', { smarthost: withString }))).hosts[0]?.port, 2526);
    const bare = smtp(await r.route(message('f@nowhere.test', { smarthost: { hostname: 'relay.test' } })));
    assert.equal(bare.hosts[0]?.port, 25);
    assert.equal(bare.auth, undefined);
  });

  test('config smarthost: its port, no AUTH without a user name', async () => {
    const route = smtp(await router({ smarthost: 'relay.test', 'smarthost-port': '587' }).route(message('g@nowhere.test')));
    assert.deepEqual(route.hosts, [{ host: 'relay.test', port: 587, addresses: ['127.0.0.30'] }]);
    assert.equal(route.destination, SMARTHOST_DESTINATION);
    assert.equal(route.auth, undefined);
    assert.equal(route.via, 'smarthost');
  });

  test('an IP smarthost needs no DNS', async () => {
    const config = configFromValues({ smarthost: '127.0.0.33', 'dns-servers': '127.0.0.1:1', 'dns-attempts': '1' }).config;
    const route = smtp(await new Router(config, createResolver(config)).route(message('h@example.test')));
    assert.deepEqual(route.hosts, [{ host: '127.0.0.33', port: 25, addresses: ['127.0.0.33'] }]);
  });

  test('an unresolvable smarthost is transient', async () => {
    await assert.rejects(router({ smarthost: 'gone.test' }).route(message('i@example.test')), (e: unknown) => {
      return e instanceof DnsError && e.transient;
    });
  });
});

describe('sink', () => {
  test('every connection goes to the sink while destinations stay per domain', async () => {
    const r = router({ 'smtp-sink-address': 'sink.test', 'smtp-sink-port': '2527', 'smtp-sink-username': 'su', 'smtp-sink-password': 'sp' });
    const one = smtp(await r.route(message('j@nowhere.test')));
    const two = smtp(await r.route(message('k@example.test')));
    for (const [route, domain] of [
      [one, 'nowhere.test'],
      [two, 'example.test'],
    ] as const) {
      assert.equal(route.domain, domain);
      assert.equal(route.destination, domain);
      assert.deepEqual(route.hosts, [{ host: 'sink.test', port: 2527, addresses: ['127.0.0.31'] }]);
      assert.deepEqual(route.auth, { user: 'su', pass: 'sp' });
      assert.equal(route.via, 'sink');
    }
  });

  test('with a smarthost too: one (smarthost) destination, connections to the sink', async () => {
    const r = router({ 'smtp-sink-address': 'sink.test', smarthost: 'relay.test' });
    const route = smtp(await r.route(message('l@example.test')));
    assert.equal(route.destination, SMARTHOST_DESTINATION);
    assert.deepEqual(route.hosts, [{ host: 'sink.test', port: 25, addresses: ['127.0.0.31'] }]);
    assert.equal(route.via, 'sink');
    const json = smtp(await router({ 'smtp-sink-address': 'sink.test' }).route(message('m@x.test', { smarthost: { hostname: 'relay.test' } })));
    assert.equal(json.destination, SMARTHOST_DESTINATION);
    assert.equal(json.hosts[0]?.host, 'sink.test');
  });
});
