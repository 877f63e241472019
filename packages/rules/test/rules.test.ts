import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  ExclusiveFieldsError,
  RuleCache,
  RuleValidationError,
  SchemaMismatchError,
  UnsupportedDatabaseError,
  MIGRATIONS,
  storeFromAddress,
  type NewRow,
  type RuleKind,
  type RuleStore,
} from '../src/index.js';
import { postgresBackend, sqliteBackend, type Backend } from './backends.js';

const PEM = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** One valid row per table, as the REST API would pass it. */
const SAMPLES: { [K in RuleKind]: NewRow<K> } = {
  suppressions: { type: 'address', value: 'T@x.net', code: 551, extended: '5.1.1', description: 'Spamtrap' },
  pauses: { domain: 'X.org.', cluster: false, owner: '7' },
  errors: { domain: 'x.org', code: 421, description: 'forced' },
  patterns: { pattern: 'try again later', match: 'substring', priority: 5, continue: true, actions: { properties: { fatal: false }, result: 'retry', after: 300 } },
  floods: { mta: '10.0.0.5', domain: 'x.org', pattern: '421 * too many', match: 'wildcard', pauseSeconds: 60, reducedSeconds: 600, connections: 1, messagesPerMinute: 10 },
  pools: { name: 'bulk', description: 'bulk senders' },
  poolips: { pool: 'bulk', ip: '10.0.0.5' },
  externalmtas: { ip: '192.0.2.7', hostname: 'mx.example.com' },
  dkimkeys: { domain: 'example.com', selector: 's1', key: PEM, headers: ['List-Id'] },
};

const silent = { retryMinMs: 50, retryMaxMs: 200 } as const;

function backendTests(make: () => Backend): void {
  const backend = make();
  const stores: RuleStore[] = [];
  const open = async (address?: string): Promise<RuleStore> => {
    const s = storeFromAddress(address ?? (await backend.fresh()), { owner: '1' })!;
    stores.push(s);
    return s;
  };
  let store: RuleStore;

  before(async () => {
    store = await open();
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => undefined);
    await backend.cleanup();
  });

  test('migrations: applied once, recorded in schema_version, validated', async () => {
    const fresh = await open();
    await assert.rejects(fresh.validate(), SchemaMismatchError, 'an empty database fails validation');
    assert.deepEqual(await fresh.migrate(), MIGRATIONS.map((m) => m.version));
    assert.deepEqual(await fresh.migrate(), [], 'nothing to apply the second time');
    await fresh.validate();
    assert.deepEqual(await store.migrate(), [1]);
    // Two stores on the same database migrating at once (two nodes starting): one applies, nothing fails.
    const address = await backend.fresh();
    const [a, b] = [await open(address), await open(address)];
    const applied = await Promise.all([a.migrate(), b.migrate()]);
    assert.deepEqual(applied.flat(), [1]);
  });

  test('CRUD on every table: create answers the row with its id, list, get, delete', async () => {
    for (const kind of Object.keys(SAMPLES) as RuleKind[]) {
      const row = await store.create(kind, SAMPLES[kind] as never);
      assert.equal(typeof row.id, 'number', kind);
      assert.match(row.created, /^\d{4}-\d\d-\d\dT/, kind);
      assert.deepEqual(await store.get(kind, row.id), row, kind);
      assert.deepEqual((await store.list(kind)).map((r) => r.id), [row.id], kind);
    }
    const set = await store.load();
    assert.deepEqual(set.suppressions[0], { ...set.suppressions[0], type: 'address', value: 't@x.net', code: 551, extended: '5.1.1', description: 'Spamtrap' });
    assert.equal(set.pauses[0]?.domain, 'x.org', 'domains lower case, no trailing dot');
    assert.equal(set.pauses[0]?.cluster, false);
    assert.equal(set.pauses[0]?.owner, '7');
    assert.equal(set.errors[0]?.cluster, true, 'cluster defaults to true');
    assert.equal(set.errors[0]?.owner, '1', "owner defaults to the store's instance");
    assert.deepEqual(set.patterns[0]?.actions, { properties: { fatal: false }, result: 'retry', after: 300 });
    assert.equal(set.patterns[0]?.continue, true);
    assert.equal(set.floods[0]?.messagesPerMinute, 10);
    assert.deepEqual(set.dkimkeys[0]?.headers, ['List-Id']);
    assert.equal(set.poolips[0]?.pool, 'bulk');

    for (const kind of Object.keys(SAMPLES) as RuleKind[]) {
      const [row] = await store.list(kind);
      assert.equal(await store.delete(kind, row!.id), true, kind);
      assert.equal(await store.delete(kind, row!.id), false, `${kind} twice`);
      assert.equal(await store.get(kind, row!.id), undefined);
    }
  });

  test('patterns load by priority (lower first), then id; form strings are coerced', async () => {
    const p1 = await store.create('patterns', { pattern: 'b', match: 'exact', priority: 10 });
    const p2 = await store.create('patterns', { pattern: 'a', match: 'fnmatch' as never, priority: '1' as never, continue: 'on' as never });
    const p3 = await store.create('patterns', { pattern: '^4\\d\\d ', match: 'regex' });
    assert.deepEqual((await store.load()).patterns.map((p) => p.id), [p3.id, p2.id, p1.id]);
    assert.equal(p2.match, 'wildcard');
    assert.equal(p2.continue, true);
    for (const p of [p1, p2, p3]) await store.delete('patterns', p.id);
  });

  test('exclusive fields and bad rows are refused with a typed error naming the fields', async () => {
    const refused = async (kind: RuleKind, row: unknown, fields: string[], type: typeof RuleValidationError = RuleValidationError): Promise<void> => {
      await assert.rejects(store.create(kind, row as never), (err: unknown) => {
        assert.ok(err instanceof type, `${kind} ${JSON.stringify(row)}: ${String(err)}`);
        assert.deepEqual((err as RuleValidationError).fields, fields);
        return true;
      });
    };
    await refused('pauses', { pool: 'bulk', mta: '10.0.0.5' }, ['pool', 'mta'], ExclusiveFieldsError);
    await refused('pauses', { domain: 'x.org', ip: '192.0.2.1' }, ['domain', 'ip'], ExclusiveFieldsError);
    await refused('errors', { pool: 'bulk', mta: '10.0.0.5', code: 550 }, ['pool', 'mta'], ExclusiveFieldsError);
    await refused('patterns', { domain: 'x.org', ip: '192.0.2.1', pattern: 'x' }, ['domain', 'ip'], ExclusiveFieldsError);
    await refused('errors', { domain: 'x.org', code: 700 }, ['code']);
    await refused('errors', { domain: 'x.org' }, ['code']);
    await refused('pauses', { mta: 'not-an-ip' }, ['mta']);
    await refused('pauses', { colour: 'red' }, ['colour']);
    await refused('suppressions', { type: 'user', value: 'x', code: 550 }, ['type']);
    await refused('patterns', { pattern: '(', match: 'regex' }, ['pattern']);
    await refused('patterns', { pattern: 'x', match: 'soundex' }, ['match']);
    await refused('patterns', { pattern: 'x', actions: { result: 'bounce' } }, ['actions.result']);
    await refused('dkimkeys', { domain: 'example.com', selector: 's', key: 'nope' }, ['key']);
    // '*' and '' mean "any": the same as leaving the field out.
    const any = await store.create('pauses', { pool: '*', mta: '', domain: '*' });
    assert.deepEqual([any.pool, any.mta, any.domain], [null, null, null]);
    await store.delete('pauses', any.id);
    // Unique keys: one suppression per value, one pool per IP.
    const s = await store.create('suppressions', { type: 'domain', value: 'trap.example', code: 550 });
    await refused('suppressions', { type: 'domain', value: 'TRAP.example.', code: 551 }, ['type', 'value']);
    await store.delete('suppressions', s.id);
  });

  test('RuleCache: a failed reload keeps the last good rules; the next good one replaces them', async () => {
    const db = await backend.flaky(false);
    const cache = new RuleCache(await open(db.address), { ttl: 0, ...silent }).start();
    await cache.ready();
    const editor = await open(db.address);
    const trap = await editor.create('suppressions', { type: 'address', value: 'trap@x.net', code: 550 });
    assert.equal(await cache.reload(), true);
    assert.equal(cache.current().suppressions.length, 1);

    await db.breakIt();
    assert.equal(await cache.reload(), false, 'the reload fails');
    assert.ok(cache.lastError instanceof Error);
    assert.deepEqual(cache.current().suppressions.map((s) => s.value), ['trap@x.net'], 'the suppression stays in force');
    assert.equal(cache.isReady(), true);

    await db.heal();
    await editor.delete('suppressions', trap.id);
    assert.equal(await cache.reload(), true);
    assert.equal(cache.current().suppressions.length, 0);
    await cache.close();
  });

  test('RuleCache: reloads every ttl seconds and tells listeners', async () => {
    const address = await backend.fresh();
    const cache = new RuleCache(await open(address), { ttl: 0.2, ...silent }).start();
    await cache.ready();
    const seen: number[] = [];
    cache.onChange((rules) => seen.push(rules.pauses.length));
    await (await open(address)).create('pauses', { tag: 'newsletter' });
    const deadline = Date.now() + 5000;
    while (!seen.includes(1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.includes(1), `a reload within the ttl saw the pause: ${JSON.stringify(seen)}`);
    await cache.close();
  });

  test('RuleCache: ready() waits while the database cannot be read, then resolves', async () => {
    const db = await backend.flaky(true);
    const cache = new RuleCache(await open(db.address), { ttl: 0, validate: true, ...silent }).start();
    let ready = false;
    void cache.ready().then(() => (ready = true));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(ready, false, 'not ready while unreachable');
    assert.equal(cache.isReady(), false);
    assert.equal(cache.current().suppressions.length, 0);
    await db.heal();
    await Promise.race([cache.ready(), new Promise((_, reject) => setTimeout(() => reject(new Error('not ready 5 s after the database came back')), 5000))]);
    assert.equal(cache.isReady(), true);
    await cache.close();
  });
}

describe('sqlite', () => backendTests(sqliteBackend));
describe('postgresql', () => backendTests(postgresBackend));

describe('configuration', () => {
  test('fromConfig: empty database-address = no rules, ready at once', async () => {
    const cache = RuleCache.fromConfig({ 'database-address': '', 'database-ttl': 600, 'database-validate': true, 'server-id': 1 }).start();
    await cache.ready();
    assert.equal(cache.store, undefined);
    assert.equal(cache.current().pauses.length, 0);
    await cache.close();
  });

  test('mysql:// is refused with one line naming the setting', () => {
    assert.throws(
      () => RuleCache.fromConfig({ 'database-address': 'mysql://u:p@db/mtaq', 'database-ttl': 600, 'database-validate': true, 'server-id': 1 }, undefined, 'etc/mtaq.conf:12'),
      (err: unknown) => {
        assert.ok(err instanceof UnsupportedDatabaseError);
        assert.equal(err.message, 'etc/mtaq.conf:12: database-address: mysql:// is not supported by mtaq; use sqlite:///path (one host) or postgresql://… (a cluster)');
        return true;
      },
    );
  });
});
