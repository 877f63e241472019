import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { authenticate, dkimVerify } from 'mailauth';
import type { OutgoingMessage } from '@mtaq/envelope';
import { defaultSignedHeaders, DkimSigner, fromDomain } from '../../src/dkim.js';

const MIME = [
  'From: a@example.com',
  'To: b@example.org',
  'Subject: hello',
  'Date: Mon, 1 Jan 2024 00:00:00 +0000',
  'Message-ID: <m1@example.com>',
  'X-Campaign: spring',
  '',
  'Body line  ',
  '',
  '',
].join('\r\n');

interface TestKey {
  readonly key: string;
  readonly record: string;
}

function rsaKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=rsa; p=${p}` };
}

function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // RFC 8463: p= is the raw 32-byte public key, the tail of the SPKI DER
  const p = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64');
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=ed25519; p=${p}` };
}

const rsa = rsaKey();
const ed = ed25519Key();
const records: Record<string, string> = {
  'rsa1._domainkey.example.com': rsa.record,
  'ed1._domainkey.example.net': ed.record,
};

/** A fake of DNS (none in a unit test): the keys' TXT records. */
const fakeDnsTxt = async (name: string, type: string): Promise<string[][]> => {
  const record = type === 'TXT' ? records[name.toLowerCase()] : undefined;
  if (record) return [[record]];
  throw Object.assign(new Error(`fake DNS: no ${type} for ${name}`), { code: 'ENOTFOUND' });
};

function message(dkim: OutgoingMessage['dkim']): OutgoingMessage {
  return { envelope: 'a@example.com', recipient: 'b@example.org', mime: MIME, dkim } as OutgoingMessage;
}

interface Warning {
  readonly fields: Record<string, unknown>;
  readonly text: string;
}

function signer(warnings: Warning[] = []): DkimSigner {
  const logger = { warn: (fields: Record<string, unknown>, text: string) => warnings.push({ fields, text }) };
  return new DkimSigner({ hostname: 'mx.ours.test', logger: logger as never });
}

function tag(header: string, name: string): string | undefined {
  const unfolded = header.replace(/\r?\n[ \t]+/g, ' ');
  return new RegExp(`[;:\\s]${name}=([^;]*)`).exec(unfolded)?.[1]?.replace(/\s+/g, '');
}

async function verify(signed: Buffer | string): Promise<Map<string, string>> {
  const { results } = await dkimVerify(Buffer.from(signed), { resolver: fakeDnsTxt });
  return new Map(results.map((r) => [`${r.signingDomain}/${r.selector}`, r.status.result]));
}

describe('DKIM signing (mailauth)', () => {
  test('two keys (rsa relaxed/simple by default, ed25519 simple/simple with x-campaign): both verify; c= and h= as asked', async () => {
    const signed = await signer().sign(
      message([
        { domain: 'example.com', selector: 'rsa1', key: rsa.key },
        { domain: 'example.net', selector: 'ed1', key: ed.key, canonicalization: 'simple/simple', headers: ['X-Campaign', 'from'] },
      ]),
      Buffer.from(MIME),
    );
    const text = signed.toString();
    assert.ok(text.endsWith(MIME), 'signatures prepended, message unchanged');
    const headers = text.slice(0, text.length - MIME.length).split(/\r\n(?![ \t])/).filter(Boolean);
    assert.equal(headers.length, 2);
    assert.ok(headers.every((h) => h.startsWith('DKIM-Signature:')));
    const [first, second] = headers as [string, string];
    assert.equal(tag(first, 'd'), 'example.com', 'signatures in key order');
    assert.equal(tag(first, 'a'), 'rsa-sha256');
    assert.equal(tag(first, 'c'), 'relaxed/simple');
    assert.equal(tag(second, 'd'), 'example.net');
    assert.equal(tag(second, 'a'), 'ed25519-sha256');
    assert.equal(tag(second, 'c'), 'simple/simple');
    const h1 = tag(first, 'h')!.toLowerCase().split(':');
    const h2 = tag(second, 'h')!.toLowerCase().split(':');
    assert.ok(!h1.includes('x-campaign'));
    assert.ok(h2.includes('x-campaign'));
    assert.equal(h2.filter((h) => h === 'from').length, 1, 'a default field named again is signed once');
    for (const h of ['from', 'to', 'subject', 'date', 'message-id']) assert.ok(h1.includes(h) && h2.includes(h), h);
    assert.ok(h2.every((h) => defaultSignedHeaders().includes(h) || h === 'x-campaign'));

    assert.deepEqual(Object.fromEntries(await verify(signed)), { 'example.com/rsa1': 'pass', 'example.net/ed1': 'pass' });
    const changed = text.replace('X-Campaign: spring', 'X-Campaign: autumn');
    assert.deepEqual(Object.fromEntries(await verify(changed)), { 'example.com/rsa1': 'pass', 'example.net/ed1': 'fail' });
  });

  test('an expired key is skipped; no key left ⇒ the message unchanged', async () => {
    const expired = { domain: 'example.net', selector: 'ed1', key: ed.key, expire: '2000-01-01 00:00:00' };
    const one = await signer().sign(message([expired, { domain: 'example.com', selector: 'rsa1', key: rsa.key, expire: '2999-01-01 00:00:00' }]), Buffer.from(MIME));
    assert.deepEqual(Object.fromEntries(await verify(one)), { 'example.com/rsa1': 'pass' });
    const none = await signer().sign(message(expired), Buffer.from(MIME));
    assert.equal(none.toString(), MIME);
  });

  test('report: true is not supported: warned once per message and key, the signature still made', async () => {
    const warnings: Warning[] = [];
    const s = signer(warnings);
    const m = message({ domain: 'example.com', selector: 'rsa1', key: rsa.key, report: true });
    for (let i = 0; i < 3; i++) {
      const signed = await s.sign({ ...m, recipient: `r${i}@example.org` }, Buffer.from(MIME));
      assert.equal(tag(signed.toString(), 'r'), undefined);
    }
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.text, /r=y/);
    assert.equal(warnings[0]!.fields['selector'], 'rsa1');
  });

  test('protocols ["arc"]: sealed (cv=none, our authserv-id), no DKIM-Signature; the chain verifies', async () => {
    const signed = await signer().sign(message({ domain: 'example.com', selector: 'rsa1', key: rsa.key, protocols: ['arc'] }), Buffer.from(MIME));
    const text = signed.toString();
    assert.ok(text.endsWith(MIME));
    assert.ok(!/^DKIM-Signature:/im.test(text));
    assert.match(text, /^ARC-Seal: i=1;[^]*cv=none/m);
    assert.match(text, /^ARC-Authentication-Results: i=1; mx\.ours\.test; none/m);
    const checked = await authenticate(signed, { ip: '192.0.2.1', helo: 'mx.ours.test', sender: 'a@example.com', mta: 'mx.example.org', resolver: fakeDnsTxt as never });
    assert.equal(checked.arc && checked.arc.status.result, 'pass', JSON.stringify(checked.arc));
  });

  test('ARC with an ed25519 key: not sealed, warned; DKIM still signed', async () => {
    const warnings: Warning[] = [];
    const signed = await signer(warnings).sign(message({ domain: 'example.net', selector: 'ed1', key: ed.key, protocols: ['dkim', 'arc'] }), Buffer.from(MIME));
    assert.ok(!/^ARC-/im.test(signed.toString()));
    assert.deepEqual(Object.fromEntries(await verify(signed)), { 'example.net/ed1': 'pass' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.text, /ARC/);
  });
  test('DKIM key table: keys whose domain is the From domain sign after the message\'s own; others and duplicates do not', async () => {
    const table = [
      { domain: 'example.net', selector: 'ed1', key: ed.key }, // not the From domain
      { domain: 'EXAMPLE.com.', selector: 'rsa1', key: rsa.key }, // the From domain, written loosely
    ];
    const tabled = new DkimSigner({ hostname: 'mx.ours.test', tableKeys: () => table });
    const signed = await tabled.sign(message(undefined), Buffer.from(MIME));
    assert.deepEqual(Object.fromEntries(await verify(signed)), { 'example.com/rsa1': 'pass' });
    assert.equal(signed.toString().match(/^DKIM-Signature:/gim)?.length, 1);
    // the message's own key for the same domain and selector: signed once, by the message's key
    const own = await tabled.sign(message({ domain: 'example.com', selector: 'rsa1', key: rsa.key }), Buffer.from(MIME));
    assert.equal(own.toString().match(/^DKIM-Signature:/gim)?.length, 1);
    assert.deepEqual(Object.fromEntries(await verify(own)), { 'example.com/rsa1': 'pass' });
    // a From of another domain: the table signs nothing
    const other = await tabled.sign(message(undefined), Buffer.from(MIME.replace('From: a@example.com', 'From: a@example.org')));
    assert.ok(!/^DKIM-Signature:/im.test(other.toString()));
  });

  test('fromDomain: display names, angle brackets, comments, quoted @', () => {
    const f = (value: string): string | undefined => fromDomain([{ name: 'from', value }]);
    assert.equal(f(' a@Example.COM'), 'example.com');
    assert.equal(f(' "x@evil.test" <a@good.test>'), 'good.test');
    assert.equal(f(' Ann (a@evil.test) <a@good.test>'), 'good.test');
    assert.equal(f(' a@one.test, b@two.test'), 'one.test');
    assert.equal(f(' nobody'), undefined);
    assert.equal(fromDomain([]), undefined);
  });
});
