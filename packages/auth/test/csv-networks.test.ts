import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthConfigError, CsvNetworks } from '../src/index.js';
import { delay, tempDir } from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

test('trusted networks from the concentrator seed example', async () => {
  const networks = new CsvNetworks({ source: join(FIXTURES, 'concentrator-networks.csv'), column: 1, header: false, reloadInterval: 0, timeout: 1 });
  assert.equal(networks.ranges.isEmpty, true, 'nothing is trusted before start()');
  await networks.start();
  assert.deepEqual(networks.ranges.entries, ['127.0.1.1', '127.0.0.0/24', '192.168.0.1']);
  assert.equal(networks.ranges.contains('127.0.0.200'), true);
  assert.equal(networks.ranges.contains('127.0.1.1'), true);
  assert.equal(networks.ranges.contains('127.0.1.2'), false);
  assert.equal(networks.ranges.contains('::ffff:192.168.0.1'), true);
});

test('header, empty networks, reload on interval, failed reload keeps the list, HTTP source', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'networks.csv');
  await writeFile(file, 'network,comment\n10.0.0.0/8,office\n,nothing here\n2001:db8::/32;192.0.2.1,two\n');
  const networks = new CsvNetworks({ source: file, column: 0, header: true, reloadInterval: 0.1, timeout: 1 });
  t.after(() => networks.close());
  await networks.start();
  assert.deepEqual(networks.ranges.entries, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);

  await writeFile(file, 'network\n172.16.0.0/12\n');
  for (let i = 0; i < 100 && !networks.ranges.contains('172.16.1.1'); i++) await delay(20);
  assert.deepEqual(networks.ranges.entries, ['172.16.0.0/12']);
  await writeFile(file, 'network\nnot-an-address\n');
  assert.equal(await networks.reload(), false);
  assert.deepEqual(networks.ranges.entries, ['172.16.0.0/12']);

  const server = createServer((request, response) => {
    if (request.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) return void response.writeHead(403).end();
    response.end('"Net","198.51.100.0/24"\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/networks.csv`;
  const remote = new CsvNetworks({ source: url, column: 1, header: false, reloadInterval: 0, timeout: 1, basicAuth: { user: 'u', pass: 'p' } });
  await remote.start();
  assert.equal(remote.ranges.contains('198.51.100.9'), true);
  await assert.rejects(new CsvNetworks({ source: url, column: 1, header: false, reloadInterval: 0, timeout: 1 }).start(), /HTTP 403/);
});

test('a bad network fails start() naming file and line', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'networks.csv');
  await writeFile(file, '"a","10.0.0.1"\n"b\nc","10.0.0.300"\n');
  await assert.rejects(
    new CsvNetworks({ source: file, column: 1, header: false, reloadInterval: 0, timeout: 1 }).start(),
    (error: unknown) => error instanceof AuthConfigError && error.message.startsWith(`${file} line 2:`) && /10\.0\.0\.300/.test(error.message),
  );
});
