import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createAuthBackend, escapeDnValue } from '../src/index.js';
import { freeTcpPort, installed, login, run, startServer, stopServer, tempDir, waitForTcp } from './helpers.js';

const SUFFIX = 'dc=mtaq,dc=test';

test('ldap:// binds as uid=<user>,<base_dn> against a real slapd', async (t) => {
  if (!(await installed('slapd')) || !(await installed('slapadd'))) {
    t.skip('slapd is not installed (apt-get install slapd ldap-utils)');
    return;
  }
  const dir = await tempDir(t);
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile ${dir}/slapd.pid
database mdb
maxsize 10485760
suffix "${SUFFIX}"
directory ${dir}/db
`,
  );
  const { stdout: ssha } = await run('slappasswd', ['-s', 's3cret']);
  await writeFile(
    join(dir, 'data.ldif'),
    `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: mtaq
o: mtaq

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Example
userPassword: ${ssha.trim()}

dn: uid=a\\,b,ou=people,${SUFFIX}
objectClass: inetOrgPerson
uid: a,b
cn: Comma
sn: Example
userPassword: comma-pass
`,
  );
  await run('slapadd', ['-f', conf, '-l', join(dir, 'data.ldif')]);
  const port = await freeTcpPort();
  const slapd = await startServer('slapd', ['-f', conf, '-h', `ldap://127.0.0.1:${port}/`, '-d', '256'], /slapd starting/);
  t.after(() => stopServer(slapd));
  await waitForTcp(port);

  const backend = createAuthBackend(`ldap://127.0.0.1:${port}/ou=people,${SUFFIX}`, { timeout: 2 });
  assert.equal(backend.name, 'ldap');
  assert.deepEqual(await backend.authenticate(login('alice', 's3cret')), { ok: true, user: 'alice' });
  assert.equal((await backend.authenticate(login('alice', 'wrong'))).ok, false);
  const wrong = await backend.authenticate(login('alice', 'wrong'));
  assert.equal(!wrong.ok && wrong.reason, 'invalid');
  const nobody = await backend.authenticate(login('bob', 's3cret'));
  assert.equal(!nobody.ok && nobody.reason, 'invalid');
  // Escaping: the comma is part of the uid value, not an RDN separator.
  assert.equal((await backend.authenticate(login('a,b', 'comma-pass'))).ok, true);
  const injected = await backend.authenticate(login('alice,ou=people', 's3cret'));
  assert.equal(!injected.ok && injected.reason, 'invalid');
  // An empty password would be an anonymous bind that "succeeds": never sent.
  assert.equal((await backend.authenticate(login('alice', ''))).ok, false);

  await stopServer(slapd);
  const down = await backend.authenticate(login('alice', 's3cret'));
  assert.equal(!down.ok && down.reason, 'unavailable');
});

test('ldap:// to a server that accepts but never answers is unavailable after the timeout', async (t) => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const { port } = server.address() as { port: number };
  const started = Date.now();
  const result = await createAuthBackend(`ldap://127.0.0.1:${port}/${SUFFIX}`, { timeout: 0.5 }).authenticate(login('alice', 'x'));
  assert.equal(!result.ok && result.reason, 'unavailable');
  assert.ok(Date.now() - started < 2000);
});

test('escapeDnValue follows RFC 4514', () => {
  assert.equal(escapeDnValue('alice'), 'alice');
  assert.equal(escapeDnValue('a,b+c"d\\e<f>g;h=i'), 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i');
  assert.equal(escapeDnValue(' #lead'), '\\ #lead');
  assert.equal(escapeDnValue('#lead'), '\\#lead');
  assert.equal(escapeDnValue('trail '), 'trail\\ ');
  assert.equal(escapeDnValue(' '), '\\ ');
  assert.equal(escapeDnValue('in side'), 'in side');
  assert.equal(escapeDnValue('nul\0cr\r'), 'nul\\00cr\\0d');
  assert.equal(escapeDnValue('jörg'), 'jörg');
});

test('ldap:// URLs without a base DN fail at creation', () => {
  assert.throws(() => createAuthBackend('ldap://127.0.0.1:389/', { timeout: 1 }), /no base DN/);
});
