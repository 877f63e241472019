import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthBackend } from '../src/index.js';
import { freeUdpPort, installed, login, startServer, stopServer, tempDir } from './helpers.js';

const SECRET = 'sh@red secret';

async function writeConfig(dir: string, port: number): Promise<void> {
  await writeFile(
    join(dir, 'radiusd.conf'),
    `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = ${dir}
confdir = \${raddbdir}
modconfdir = \${confdir}
logdir = \${raddbdir}
radacctdir = \${raddbdir}
run_dir = \${raddbdir}
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/radiusd.pid
name = freeradius
max_request_time = 5
cleanup_delay = 1
max_requests = 128
hostname_lookups = no
log {
	destination = stderr
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
client local {
	ipaddr = 127.0.0.1
	secret = "${SECRET}"
	require_message_authenticator = yes
}
thread pool {
	start_servers = 1
	max_servers = 2
	min_spare_servers = 1
	max_spare_servers = 2
}
modules {
	files {
		filename = \${confdir}/users
	}
	pap {
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = ${port}
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`,
  );
  // alice only from our NAS-Identifier; carol only for one client address (Calling-Station-Id).
  await writeFile(
    join(dir, 'users'),
    `alice	Cleartext-Password := "s3cret", NAS-Identifier == "mtaq-test"
carol	Cleartext-Password := "c-pass", Calling-Station-Id == "192.0.2.5"
`,
  );
}

/** A UDP relay that drops the first `drop` datagrams from the client, to exercise retransmission. */
async function lossyRelay(target: number, drop: number): Promise<{ port: number; received: () => number; close: () => void }> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  let client: RemoteInfo | undefined;
  let count = 0;
  front.on('message', (message, from) => {
    count += 1;
    client = from;
    if (count > drop) back.send(message, target, '127.0.0.1');
  });
  back.on('message', (message) => {
    if (client) front.send(message, client.port, client.address);
  });
  front.bind(0, '127.0.0.1');
  back.bind(0, '127.0.0.1');
  await Promise.all([once(front, 'listening'), once(back, 'listening')]);
  return {
    port: front.address().port,
    received: () => count,
    close: () => {
      front.close();
      back.close();
    },
  };
}

test('radius:// against a real FreeRADIUS: accept, reject, retransmission, wrong secret, server down', async (t) => {
  if (!(await installed('freeradius'))) {
    t.skip('freeradius is not installed (apt-get install freeradius)');
    return;
  }
  const dir = await tempDir(t);
  const port = await freeUdpPort();
  await writeConfig(dir, port);
  const server = await startServer('freeradius', ['-X', '-d', dir, '-n', 'radiusd'], /Ready to process requests/);
  t.after(() => stopServer(server));

  const secret = encodeURIComponent(SECRET);
  const backend = createAuthBackend(`radius://mtaq-test:${secret}@127.0.0.1:${port}`, { timeout: 1.5 });
  assert.equal(backend.name, 'radius');
  assert.deepEqual(await backend.authenticate(login('alice', 's3cret')), { ok: true, user: 'alice' });
  assert.deepEqual(await backend.authenticate(login('alice', 'wrong')), { ok: false, reason: 'invalid', detail: 'Access-Reject' });
  assert.deepEqual(await backend.authenticate(login('nobody', 's3cret')), { ok: false, reason: 'invalid', detail: 'Access-Reject' });
  assert.equal((await backend.authenticate(login('carol', 'c-pass', { remoteAddress: '192.0.2.5' }))).ok, true);
  assert.equal((await backend.authenticate(login('carol', 'c-pass', { remoteAddress: '192.0.2.6' }))).ok, false);

  const otherNas = createAuthBackend(`radius://someone-else:${secret}@127.0.0.1:${port}`, { timeout: 1.5 });
  assert.equal((await otherNas.authenticate(login('alice', 's3cret'))).ok, false, 'NAS-Identifier comes from the URL');

  // The first transmission is lost; the retransmission within the timeout gets through.
  const relay = await lossyRelay(port, 1);
  t.after(() => relay.close());
  const lossy = createAuthBackend(`radius://mtaq-test:${secret}@127.0.0.1:${relay.port}`, { timeout: 1.5 });
  assert.deepEqual(await lossy.authenticate(login('alice', 's3cret')), { ok: true, user: 'alice' });
  assert.equal(relay.received(), 2);

  // A wrong shared secret makes FreeRADIUS drop the request (bad Message-Authenticator): unavailable.
  const started = Date.now();
  const wrongSecret = createAuthBackend(`radius://mtaq-test:nope@127.0.0.1:${port}`, { timeout: 0.6 });
  const silent = await wrongSecret.authenticate(login('alice', 's3cret'));
  assert.equal(!silent.ok && silent.reason, 'unavailable');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 550 && elapsed < 1500, `gave up after ${elapsed} ms`);

  await stopServer(server);
  const down = await backend.authenticate(login('alice', 's3cret'));
  assert.equal(!down.ok && down.reason, 'unavailable');
});

test('radius:// answers that fail authentication are ignored', async (t) => {
  // A fake server answering Access-Accept with a garbage authenticator: must not be believed.
  const fake = createSocket('udp4');
  fake.on('message', (message, from) => {
    const answer = Buffer.alloc(20);
    answer[0] = 2;
    answer[1] = message[1]!;
    answer.writeUInt16BE(20, 2);
    fake.send(answer, from.port, from.address);
  });
  fake.bind(0, '127.0.0.1');
  await once(fake, 'listening');
  t.after(() => fake.close());
  const result = await createAuthBackend(`radius://nas:secret@127.0.0.1:${fake.address().port}`, { timeout: 0.5 }).authenticate(login('alice', 'x'));
  assert.equal(!result.ok && result.reason, 'unavailable');
});

test('radius:// URLs need a shared secret', () => {
  assert.throws(() => createAuthBackend('radius://nas@127.0.0.1:1812', { timeout: 1 }), /no shared secret/);
});
