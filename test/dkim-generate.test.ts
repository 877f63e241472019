import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, test } from 'node:test';
import { dkimSign, dkimVerify } from 'mailauth';
import { runCli } from './helpers/process.js';

// `mtaq dkim generate`: the printed key must parse, and a message signed with it must verify
// against the printed TXT record (served by a fake resolver: no DNS in a test).

const MIME = ['From: a@example.com', 'To: b@example.org', 'Subject: dkim generate', 'Date: Mon, 1 Jan 2024 00:00:00 +0000', 'Message-ID: <g1@example.com>', '', 'Hello', ''].join('\r\n');

interface Printed {
  readonly pem: string;
  readonly name: string;
  readonly strings: string[];
  readonly value: string;
}

/** The PEM block and the zone-file line of the command's output. */
function parseOutput(stdout: string): Printed {
  const pem = /-----BEGIN PRIVATE KEY-----\n[\s\S]+?\n-----END PRIVATE KEY-----\n/.exec(stdout)?.[0];
  assert.ok(pem, `no PEM in:\n${stdout}`);
  const line = stdout.split('\n').find((l) => /^\S+\. \d+ IN TXT "/.test(l));
  assert.ok(line, `no zone-file TXT line in:\n${stdout}`);
  const name = line.split(' ')[0]!.replace(/\.$/, '');
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  return { pem, name, strings, value: strings.join('') };
}

/** A resolver answering the TXT record that was printed, as mailauth's `resolver` option wants. */
function fakeDnsTxt(printed: Printed) {
  return async (name: string, type: string): Promise<string[][]> => {
    if (type === 'TXT' && name.toLowerCase() === printed.name.toLowerCase()) return [printed.strings];
    throw Object.assign(new Error(`fake DNS: no ${type} for ${name}`), { code: 'ENOTFOUND' });
  };
}

async function signAndVerify(printed: Printed, domain: string, selector: string, algorithm: string): Promise<string> {
  const signed = await dkimSign(MIME, { signatureData: [{ signingDomain: domain, selector, privateKey: printed.pem, algorithm }] } as never);
  assert.deepEqual(signed.errors, []);
  const { results } = await dkimVerify(Buffer.from(signed.signatures + MIME), { resolver: fakeDnsTxt(printed) as never });
  assert.equal(results.length, 1);
  return results[0]!.status.result;
}

describe('mtaq dkim generate', () => {
  test('rsa 2048 (default): PEM that node:crypto parses, a TXT record in 255-byte strings that verifies', async () => {
    const { code, stdout, stderr } = await runCli(['dkim', 'generate', '--domain', 'example.com', '--selector', 'mtaq1']);
    assert.equal(code, 0, stderr);
    const printed = parseOutput(stdout);
    const key = createPrivateKey(printed.pem);
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(printed.name, 'mtaq1._domainkey.example.com');
    assert.match(printed.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]+$/);
    // a 2048-bit key's record is longer than one TXT string may be
    assert.ok(printed.strings.length >= 2, 'split into several strings');
    for (const s of printed.strings) assert.ok(Buffer.byteLength(s) <= 255, `string of ${Buffer.byteLength(s)} bytes`);
    // p= is the public half of the printed private key
    const p = /p=(\S+)$/.exec(printed.value)![1]!;
    assert.equal(p, createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64'));
    assert.equal(await signAndVerify(printed, 'example.com', 'mtaq1', 'rsa-sha256'), 'pass');
  });

  test('--bits and --type ed25519', async () => {
    const rsa = await runCli(['dkim', 'generate', '--domain', 'example.net', '--selector', 's1024', '--bits', '1024']);
    assert.equal(rsa.code, 0, rsa.stderr);
    assert.equal(createPrivateKey(parseOutput(rsa.stdout).pem).asymmetricKeyDetails?.modulusLength, 1024);

    const ed = await runCli(['dkim', 'generate', '--domain', 'example.org', '--selector', 'ed', '--type', 'ed25519']);
    assert.equal(ed.code, 0, ed.stderr);
    const printed = parseOutput(ed.stdout);
    assert.equal(createPrivateKey(printed.pem).asymmetricKeyType, 'ed25519');
    assert.match(printed.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    assert.equal(await signAndVerify(printed, 'example.org', 'ed', 'ed25519-sha256'), 'pass');
  });

  test('bad usage exits 2 with the reason; --help describes the command', async () => {
    for (const [args, reason] of [
      [['dkim', 'generate', '--selector', 's'], /--domain is required/],
      [['dkim', 'generate', '--domain', 'example.com'], /--selector is required/],
      [['dkim', 'generate', '--domain', 'example.com', '--selector', 's', '--bits', '512'], /--bits must be/],
      [['dkim', 'generate', '--domain', 'example.com', '--selector', 's', '--type', 'dsa'], /--type must be rsa or ed25519/],
      [['dkim', 'generate', '--domain', 'not a domain', '--selector', 's'], /is not a domain name/],
      [['dkim', 'rotate'], /unknown action "rotate"/],
    ] as const) {
      const { code, stderr, stdout } = await runCli([...args]);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, reason);
      assert.equal(stdout, '');
    }
    const help = await runCli(['dkim', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: mtaq dkim generate --domain D --selector S/);
    assert.match(help.stdout, /--type T/);
    assert.match((await runCli(['--help'])).stdout, /mtaq dkim generate/);
  });
});
