import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { dkimKey, sealWithDkimpy, signWithDkimpy, signWithNodemailer, type DkimKey } from './helpers/dkim.js';
import { startDnsServer, type DnsServer } from './helpers/dns-server.js';
import { Haproxy } from './helpers/haproxy.js';
import { freePort } from './helpers/ports.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { startSpamd, type Spamd } from './helpers/spamd.js';
import { SmtpTalk } from './helpers/smtp.js';

/** The client's address in every test: SPF records below name it, or do not. */
const CLIENT = '127.0.0.7';
const HOSTNAME = 'mx.checks.test';

interface Sent {
  code: number;
  text: string;
  doc: Record<string, unknown> | undefined;
}

/** One transaction from CLIENT (or through `port` from wherever), and the inbox document it made. */
async function mail(
  port: number,
  broker: TestBroker,
  queue: string,
  message: { from: string; to?: string; body: string; helo?: string; host?: string },
): Promise<Sent> {
  const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: CLIENT });
  await smtp.read();
  await smtp.command(`EHLO ${message.helo ?? 'client.checks.test'}`);
  const reply = await smtp.send(message.from, [message.to ?? 'bob@local.test'], message.body);
  await smtp.quit();
  const doc = reply.code === 250 ? (await broker.takeJson(queue, 1))[0] : undefined;
  return { code: reply.code, text: reply.text, doc };
}

function plain(from: string, subject: string, extra = ''): string {
  return `From: <${from}>\r\nTo: <bob@local.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@checks.test>\r\n${extra}\r\nHello.\r\n`;
}

/** An ingress on 127.0.0.1 whose inbox (and local queue, and outbox) is `inbox`, plus `lines`. */
async function startIngress(inbox: string, lines: string[]): Promise<{ mtaq: MtaqProcess; port: number }> {
  const port = await freePort();
  const config = writeConfig(
    [
      `smtp-ip: 127.0.0.1`,
      `smtp-port: ${port}`,
      `smtp-hostname: ${HOSTNAME}`,
      `rabbitmq-address: amqp://guest:guest@127.0.0.1/`,
      `rabbitmq-inbox: ${inbox}`,
      `rabbitmq-local: ${inbox}`,
      `rabbitmq-outbox: ${inbox}`,
      ...lines,
    ].join('\n'),
  );
  return { mtaq: await startMtaq('ingress', ['--config-file', config]), port };
}

const checksOf = (sent: Sent): Array<Record<string, unknown>> => sent.doc?.['checks'] as Array<Record<string, unknown>>;

describe('smtp-check: spf, dkim, dmarc, arc (mailauth against a real DNS server)', () => {
  const inbox = uniqueName('checks-inbox');
  const refused = uniqueName('checks-refused');
  let broker: TestBroker;
  let dns: DnsServer;
  let mtaq: MtaqProcess;
  let port: number;
  let keyA: DkimKey;
  let keyB: DkimKey;

  before(async () => {
    broker = await TestBroker.open();
    keyA = dkimKey();
    keyB = dkimKey();
    dns = await startDnsServer({
      zones: ['test'],
      txt: [
        { name: 'pass.test', text: `v=spf1 ip4:${CLIENT} -all` },
        { name: 'fail.test', text: 'v=spf1 ip4:192.0.2.1 -all' },
        { name: 'softfail.test', text: 'v=spf1 ~all' },
        { name: 'neutral.test', text: 'v=spf1 ?all' },
        { name: 'permerror.test', text: 'v=spf1 ip4:not-an-address -all' },
        { name: 'nospf.test', text: 'just some text' },
        { name: 'helo.test', text: `v=spf1 ip4:${CLIENT} -all` },
        { name: 's1._domainkey.signed.test', text: keyA.record },
        { name: 's2._domainkey.python.test', text: keyB.record },
        { name: 'arc._domainkey.relay.test', text: keyB.record },
        { name: 'signed.test', text: 'v=spf1 -all' },
        { name: 'python.test', text: 'v=spf1 -all' },
        { name: '_dmarc.signed.test', text: 'v=DMARC1; p=reject' },
        { name: '_dmarc.pass.test', text: 'v=DMARC1; p=none' },
        { name: '_dmarc.none.test', text: 'v=DMARC1; p=none' },
        { name: '_dmarc.quarantine.test', text: 'v=DMARC1; p=quarantine' },
        { name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
        { name: 'none.test', text: 'v=spf1 -all' },
        { name: 'quarantine.test', text: 'v=spf1 -all' },
        { name: 'reject.test', text: 'v=spf1 -all' },
      ],
    });
    ({ mtaq, port } = await startIngress(inbox, [
      // the client (127.0.0.7) is an outsider: it may only mail local addresses
      `smtp-range: 127.0.0.1/32`,
      `smtp-local-addresses: *@local.test`,
      `smtp-check: spf, dkim, dmarc, arc`,
      `smtp-check-reject: dmarc`,
      `smtp-auth-results: local`,
      `dns-servers: ${dns.server}`,
      `rabbitmq-refused: ${refused}`,
    ]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await dns?.stop();
    await broker.deleteQueues(inbox, refused);
    await broker.close();
  });

  const spfOf = async (from: string): Promise<Record<string, unknown>> => {
    const sent = await mail(port, broker, inbox, { from, body: plain(from, `spf ${from}`) });
    assert.equal(sent.code, 250, sent.text);
    const spf = checksOf(sent).find((c) => 'spf' in c);
    assert.ok(spf, JSON.stringify(checksOf(sent)));
    return spf;
  };

  test('every SPF verdict, with the MAIL FROM it judged', async () => {
    assert.deepEqual(await spfOf('a@pass.test'), { spf: 'pass', 'smtp.mailfrom': 'a@pass.test' });
    assert.deepEqual(await spfOf('a@fail.test'), { spf: 'fail', 'smtp.mailfrom': 'a@fail.test' });
    assert.deepEqual(await spfOf('a@softfail.test'), { spf: 'softfail', 'smtp.mailfrom': 'a@softfail.test' });
    assert.deepEqual(await spfOf('a@neutral.test'), { spf: 'neutral', 'smtp.mailfrom': 'a@neutral.test' });
    assert.deepEqual(await spfOf('a@nospf.test'), { spf: 'none', 'smtp.mailfrom': 'a@nospf.test' });
    assert.deepEqual(await spfOf('a@nxdomain.test'), { spf: 'none', 'smtp.mailfrom': 'a@nxdomain.test' });
    const permerror = await spfOf('a@permerror.test');
    assert.equal(permerror['spf'], 'permerror');
  });

  test('the null sender is judged by its HELO name (RFC 7208 §2.4)', async () => {
    const sent = await mail(port, broker, inbox, { from: '', helo: 'helo.test', body: plain('mailer-daemon@helo.test', 'bounce') });
    assert.equal(sent.code, 250, sent.text);
    assert.deepEqual(checksOf(sent)[0], { spf: 'pass', 'smtp.helo': 'helo.test' });
  });

  test('DKIM: pass for nodemailer and for dkimpy signatures, fail when the body changed, none unsigned', async () => {
    const base = plain('a@signed.test', 'dkim nodemailer');
    const byNodemailer = await signWithNodemailer(base, 'signed.test', 's1', keyA);
    const sent = await mail(port, broker, inbox, { from: 'a@signed.test', body: byNodemailer });
    const dkim = checksOf(sent).find((c) => 'dkim' in c)!;
    assert.equal(dkim['dkim'], 'pass', JSON.stringify(dkim));
    assert.equal(dkim['domain'], 'signed.test');
    assert.equal(dkim['selector'], 's1');
    assert.equal(dkim['header.i'], '@signed.test');
    assert.match(String(dkim['header.b']), /^[A-Za-z0-9+/]{8}$/);
    // SPF fails (-all), DKIM aligns: DMARC passes
    assert.deepEqual(checksOf(sent).find((c) => 'dmarc' in c), { dmarc: 'pass', 'header.from': 'signed.test', policy: 'reject' });

    const byDkimpy = signWithDkimpy(plain('a@python.test', 'dkim python'), 'python.test', 's2', keyB);
    const python = checksOf(await mail(port, broker, inbox, { from: 'a@python.test', body: byDkimpy })).find((c) => 'dkim' in c)!;
    assert.equal(python['dkim'], 'pass', JSON.stringify(python));
    assert.equal(python['domain'], 'python.test');
    assert.equal(python['selector'], 's2');

    const tampered = byDkimpy.replace('Hello.', 'Hello, changed.');
    const failed = checksOf(await mail(port, broker, inbox, { from: 'a@python.test', body: tampered })).find((c) => 'dkim' in c)!;
    assert.equal(failed['dkim'], 'fail', JSON.stringify(failed));
    assert.equal(failed['domain'], 'python.test');

    const unsigned = checksOf(await mail(port, broker, inbox, { from: 'a@pass.test', body: plain('a@pass.test', 'unsigned') }));
    assert.deepEqual(unsigned.find((c) => 'dkim' in c), { dkim: 'none' });
    assert.deepEqual(unsigned.find((c) => 'arc' in c), { arc: 'none' });
  });

  test('ARC: a chain sealed by an independent signer (dkimpy) passes; the same chain with the body changed fails', async () => {
    const forwarded = plain('a@pass.test', 'arc sealed', 'Authentication-Results: relay.test; spf=pass smtp.mailfrom=a@pass.test\r\n');
    const sealed = sealWithDkimpy(forwarded, 'relay.test', 'arc', keyB, 'relay.test');
    assert.match(sealed, /^ARC-Seal: i=1;/m);
    const pass = checksOf(await mail(port, broker, inbox, { from: 'a@pass.test', body: sealed })).find((c) => 'arc' in c);
    assert.deepEqual(pass, { arc: 'pass', instance: 1 });
    const broken = checksOf(await mail(port, broker, inbox, { from: 'a@pass.test', body: sealed.replace('Hello.', 'Hello, changed.') })).find((c) => 'arc' in c)!;
    assert.equal(broken['arc'], 'fail', JSON.stringify(broken));
    assert.equal(broken['instance'], 1);
  });

  test('DMARC pass and fail under p=none and p=quarantine: annotated, accepted', async () => {
    const pass = checksOf(await mail(port, broker, inbox, { from: 'a@pass.test', body: plain('a@pass.test', 'dmarc pass') }));
    assert.deepEqual(pass.find((c) => 'dmarc' in c), { dmarc: 'pass', 'header.from': 'pass.test', policy: 'none' });
    for (const domain of ['none.test', 'quarantine.test']) {
      const sent = await mail(port, broker, inbox, { from: `a@${domain}`, body: plain(`a@${domain}`, `dmarc ${domain}`) });
      assert.equal(sent.code, 250, sent.text);
      assert.deepEqual(checksOf(sent).find((c) => 'dmarc' in c), { dmarc: 'fail', 'header.from': domain, policy: domain.split('.')[0] });
    }
  });

  test('smtp-check-reject: dmarc refuses an outsider failing p=reject with 550 5.7.1, onto rabbitmq-refused', async () => {
    const sent = await mail(port, broker, inbox, { from: 'a@reject.test', body: plain('a@reject.test', 'dmarc reject') });
    assert.equal(sent.code, 550);
    assert.match(sent.text, /^5\.7\.1 message refused: it fails the DMARC policy \(p=reject\) of reject\.test/);
    const [doc] = await broker.takeJson(refused, 1);
    assert.ok(doc);
    assert.equal(doc['recipient'], 'bob@local.test');
    assert.deepEqual(doc['refused'], { code: 550, status: '5.7.1', reason: 'message refused: it fails the DMARC policy (p=reject) of reject.test' });
    assert.deepEqual((doc['checks'] as Array<Record<string, unknown>>).find((c) => 'dmarc' in c), { dmarc: 'fail', 'header.from': 'reject.test', policy: 'reject' });
    assert.equal(await broker.count(inbox), 0, 'nothing reached the inbox');
  });

  test('Authentication-Results only on the copies smtp-auth-results names; a forged one claiming our name always removed', async () => {
    const forged = `Authentication-Results: ${HOSTNAME.toUpperCase()}; spf=pass smtp.mailfrom=a@pass.test\r\n`;
    const foreign = 'Authentication-Results: mx.elsewhere.example; spf=fail smtp.mailfrom=a@pass.test\r\n';
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' });
    await smtp.read();
    await smtp.command('EHLO trusted.checks.test');
    const reply = await smtp.send('a@pass.test', ['bob@local.test', 'carol@example.org'], plain('a@pass.test', 'auth results', forged + foreign));
    await smtp.quit();
    assert.equal(reply.code, 250, reply.text);
    const docs = await broker.takeJson(inbox, 2);
    const local = docs.find((d) => d['recipient'] === 'bob@local.test')!;
    const remote = docs.find((d) => d['recipient'] === 'carol@example.org')!;
    const ours = new RegExp(`^Authentication-Results: ${HOSTNAME.replace(/\./g, '\\.')};\\r\\n\\tspf=fail smtp\\.mailfrom=a@pass\\.test;\\r\\n\\tdkim=none;\\r\\n\\tarc=none;\\r\\n\\tdmarc=fail \\(p=none\\) header\\.from=pass\\.test\\r\\nReceived: `);
    assert.match(String(local['mime']), ours, 'the local copy starts with our field, then our Received:');
    assert.match(String(remote['mime']), /^Received: /, 'smtp-auth-results: local only');
    for (const doc of [local, remote]) {
      const mime = String(doc['mime']);
      assert.ok(!mime.includes(forged), 'the forged field is gone');
      assert.ok(mime.includes(foreign), 'another host’s field stays');
      assert.equal(mime.split(`Authentication-Results: ${HOSTNAME}`).length - 1, doc === local ? 1 : 0);
    }
  });

  test('smtp-check-reject never refuses a trusted client (smtp-range)', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' });
    await smtp.read();
    await smtp.command('EHLO trusted.checks.test');
    const reply = await smtp.send('a@reject.test', ['bob@local.test'], plain('a@reject.test', 'trusted dmarc reject'));
    await smtp.quit();
    assert.equal(reply.code, 250, reply.text);
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal((doc!['checks'] as Array<Record<string, unknown>>).find((c) => 'dmarc' in c)!['dmarc'], 'fail');
  });
});

describe('C28', () => {
  const inbox = uniqueName('c28-inbox');
  let broker: TestBroker;
  let dns: DnsServer;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    dns = await startDnsServer({ zones: ['test'], txt: [{ name: 'x.test', text: `v=spf1 ip4:${CLIENT} -all` }, { name: 'y.test', text: 'v=spf1 -all' }] });
    ({ mtaq, port } = await startIngress(inbox, [
      `smtp-range: 127.0.0.0/8`,
      `smtp-check: spf`,
      `smtp-auth: hardcoded://alice:secret`,
      `smtp-auth-insecure: true`,
      `dns-servers: ${dns.server}`,
    ]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    await dns?.stop();
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('C28 smtp-check: spf, the client named in the record → checks = [{"spf":"pass","smtp.mailfrom":"a@x.test"}]; a failing sender is still accepted', async () => {
    const pass = await mail(port, broker, inbox, { from: 'a@x.test', to: 'b@example.org', body: plain('a@x.test', 'c28') });
    assert.equal(pass.code, 250);
    assert.deepEqual(pass.doc!['checks'], [{ spf: 'pass', 'smtp.mailfrom': 'a@x.test' }]);
    const fail = await mail(port, broker, inbox, { from: 'a@y.test', to: 'b@example.org', body: plain('a@y.test', 'c28 fail') });
    assert.equal(fail.code, 250, 'checks never reject by default');
    assert.deepEqual(fail.doc!['checks'], [{ spf: 'fail', 'smtp.mailfrom': 'a@y.test' }]);
  });
  test('authenticated submissions are not judged by the sender checks (their path is our user\'s network)', async () => {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: CLIENT });
    await smtp.read();
    await smtp.command('EHLO laptop.home');
    const auth = await smtp.command(`AUTH PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}`);
    assert.equal(auth.code, 235, auth.text);
    const reply = await smtp.send('a@y.test', ['b@example.org'], plain('a@y.test', 'submission'));
    await smtp.quit();
    assert.equal(reply.code, 250, reply.text);
    const [doc] = await broker.takeJson(inbox, 1);
    assert.equal((doc!['connection'] as Record<string, unknown>)['user'], 'alice');
    assert.deepEqual(doc!['checks'], [], 'smtp-check ran, but none of its checks applies');
  });
});

describe('smtp-check with a DNS server that never answers', () => {
  const inbox = uniqueName('checks-deaf-inbox');
  let broker: TestBroker;
  let deaf: dgram.Socket;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    // a real UDP socket that reads queries and answers none
    deaf = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => deaf.bind(0, '127.0.0.1', resolve));
    ({ mtaq, port } = await startIngress(inbox, [
      `smtp-range: 127.0.0.0/8`,
      `smtp-check: spf, dkim, dmarc`,
      `smtp-check-timeout: 1`,
      `dns-servers: 127.0.0.1:${deaf.address().port}`,
    ]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    deaf?.close();
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('temperror within smtp-check-timeout, and the message is accepted', async () => {
    const started = Date.now();
    const sent = await mail(port, broker, inbox, { from: 'a@slow.test', to: 'b@example.org', body: plain('a@slow.test', 'deaf dns') });
    const took = Date.now() - started;
    assert.equal(sent.code, 250, sent.text);
    assert.ok(took < 3000, `answered after ${took} ms (budget 1 s)`);
    const checks = checksOf(sent);
    assert.equal(checks.find((c) => 'spf' in c)!['spf'], 'temperror', JSON.stringify(checks));
    assert.equal(checks.find((c) => 'dmarc' in c)!['dmarc'], 'temperror', JSON.stringify(checks));
  });
});

describe('smtp-check behind HAProxy', () => {
  const inbox = uniqueName('checks-proxy-inbox');
  let broker: TestBroker;
  let dns: DnsServer;
  let haproxy: Haproxy;
  let mtaq: MtaqProcess;

  before(async () => {
    broker = await TestBroker.open();
    dns = await startDnsServer({ zones: ['test'], txt: [{ name: 'x.test', text: `v=spf1 ip4:${CLIENT} -all` }] });
    const started = await startIngress(inbox, [
      `smtp-proxy: 127.0.0.5`,
      `smtp-range: 127.0.0.0/8`,
      `smtp-check: spf`,
      `dns-servers: ${dns.server}`,
    ]);
    mtaq = started.mtaq;
    const port = started.port;
    haproxy = await Haproxy.start([{ target: { host: '127.0.0.1', port }, proxy: 'v2', source: '127.0.0.5' }]);
  });

  after(async () => {
    await haproxy?.stop();
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    await dns?.stop();
    await broker.deleteQueues(inbox);
    await broker.close();
  });

  test('SPF judges the PROXY client address, not the proxy', async () => {
    const sent = await mail(haproxy.ports[0]!, broker, inbox, { from: 'a@x.test', to: 'b@example.org', body: plain('a@x.test', 'proxied') });
    assert.equal(sent.code, 250, sent.text);
    assert.equal((sent.doc!['connection'] as Record<string, unknown>)['remote-ip'], CLIENT);
    assert.deepEqual(checksOf(sent), [{ spf: 'pass', 'smtp.mailfrom': 'a@x.test' }]);
  });
});

/** SpamAssassin's test string: every installation scores it 1000 (spamassassin(1), "GTUBE"), give or take other rules. */
const GTUBE = 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X';

describe('smtp-check: spam (a real spamd, local tests only)', () => {
  const inbox = uniqueName('checks-spam-inbox');
  const refused = uniqueName('checks-spam-refused');
  let broker: TestBroker;
  let spamd: Spamd;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    spamd = await startSpamd();
    ({ mtaq, port } = await startIngress(inbox, [
      `smtp-range: 127.0.0.1/32`,
      `smtp-local-addresses: *@local.test`,
      `smtp-check: spam`,
      `smtp-check-reject: spam`,
      `smtp-check-timeout: 2`,
      `spamassassin-host: ${spamd.host}`,
      `spamassassin-port: ${spamd.port}`,
      `spamassassin-maxsize: 20KB`,
      `rabbitmq-refused: ${refused}`,
    ]));
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0);
    await spamd?.stop();
    await broker.deleteQueues(inbox, refused);
    await broker.close();
  });

  /** From the trusted address: annotated, never refused. */
  async function trusted(body: string): Promise<Sent> {
    const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: '127.0.0.1' });
    await smtp.read();
    await smtp.command('EHLO trusted.checks.test');
    const reply = await smtp.send('a@pass.test', ['bob@local.test'], body);
    await smtp.quit();
    const doc = reply.code === 250 ? (await broker.takeJson(inbox, 1))[0] : undefined;
    return { code: reply.code, text: reply.text, doc };
  }

  test('ham gets its score; GTUBE is spam, and from a trusted client still accepted', async () => {
    const ham = await trusted(plain('a@pass.test', 'lunch'));
    assert.equal(ham.code, 250);
    const [hamCheck] = checksOf(ham);
    assert.equal(hamCheck!['spam'], 'ham', JSON.stringify(hamCheck));
    assert.equal(typeof hamCheck!['score'], 'number');
    assert.ok((hamCheck!['score'] as number) < (hamCheck!['required'] as number));
    assert.equal(hamCheck!['required'], 5);

    const spam = await trusted(plain('a@pass.test', 'gtube', '').replace('Hello.', GTUBE));
    assert.equal(spam.code, 250, 'smtp-check-reject spares trusted clients');
    const [spamCheck] = checksOf(spam);
    assert.equal(spamCheck!['spam'], 'spam', JSON.stringify(spamCheck));
    assert.ok((spamCheck!['score'] as number) >= 900, JSON.stringify(spamCheck));
  });

  test('smtp-check-reject: spam refuses GTUBE from an outsider with 550 5.7.1, onto rabbitmq-refused', async () => {
    const sent = await mail(port, broker, inbox, { from: 'a@pass.test', body: plain('a@pass.test', 'gtube outsider').replace('Hello.', GTUBE) });
    assert.equal(sent.code, 550);
    assert.match(sent.text, /^5\.7\.1 message refused as spam \(score \d{3,4}(\.\d+)?, threshold 5\)/);
    const [doc] = await broker.takeJson(refused, 1);
    assert.equal((doc!['checks'] as Array<Record<string, unknown>>)[0]!['spam'], 'spam');
    assert.equal((doc!['refused'] as Record<string, unknown>)['code'], 550);
  });

  test('a message above spamassassin-maxsize is not sent to spamd, and says so', async () => {
    const big = plain('a@pass.test', 'big').replace('Hello.', `${'x'.repeat(70)}\r\n`.repeat(400) + GTUBE);
    const sent = await mail(port, broker, inbox, { from: 'a@pass.test', body: big });
    assert.equal(sent.code, 250, 'not checked, so not refused');
    const [check] = checksOf(sent);
    assert.equal(check!['spam'], 'none');
    assert.match(String(check!['reason']), /more than spamassassin-maxsize \(20480\)/);
  });

  test('spamd paused (slow): temperror within smtp-check-timeout, and still 250', async () => {
    spamd.pause();
    try {
      const started = Date.now();
      const sent = await mail(port, broker, inbox, { from: 'a@pass.test', body: plain('a@pass.test', 'slow spamd').replace('Hello.', GTUBE) });
      const took = Date.now() - started;
      assert.equal(sent.code, 250, sent.text);
      assert.ok(took < 4000, `answered after ${took} ms (budget 2 s)`);
      assert.equal(checksOf(sent)[0]!['spam'], 'temperror');
    } finally {
      spamd.resume();
    }
  });

  test('spamd stopped: temperror, and still 250', async () => {
    await spamd.stop();
    const sent = await mail(port, broker, inbox, { from: 'a@pass.test', body: plain('a@pass.test', 'no spamd').replace('Hello.', GTUBE) });
    assert.equal(sent.code, 250, sent.text);
    const [check] = checksOf(sent);
    assert.equal(check!['spam'], 'temperror');
    assert.match(String(check!['reason']), /^spamd: /);
  });
});
