/**
 * DKIM keys and signatures for tests, from two independent signers: nodemailer (the Node library
 * our delivery uses) and Debian's python3-dkim (dkimpy), so the ingress's verifier is not only
 * checked against code from the same hands.
 */

import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import nodemailer from 'nodemailer';

export interface DkimKey {
  /** PKCS#8 PEM. */
  readonly privateKey: string;
  /** The TXT record for `<selector>._domainkey.<domain>`. */
  readonly record: string;
}

/** RSA 1024: the smallest key mailauth accepts, so the record fits one TXT string (< 255 bytes). */
export function dkimKey(): DkimKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), record: `v=DKIM1; k=rsa; p=${p}` };
}

/** `raw` (CRLF lines) with a DKIM-Signature made by nodemailer. */
export async function signWithNodemailer(raw: string, domain: string, selector: string, key: DkimKey): Promise<string> {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  const info = await transport.sendMail({
    envelope: { from: `x@${domain}`, to: ['y@example.test'] },
    raw,
    dkim: { domainName: domain, keySelector: selector, privateKey: key.privateKey },
  });
  return (info.message as Buffer).toString('latin1');
}

/** `raw` (CRLF lines) with a DKIM-Signature made by dkimpy (Debian package python3-dkim). */
export function signWithDkimpy(raw: string, domain: string, selector: string, key: DkimKey, identity?: string): string {
  const script = [
    'import sys, dkim',
    'msg = sys.stdin.buffer.read()',
    // dkim.sign(message, selector, domain, private key PEM)
    'identity = sys.argv[4].encode() if len(sys.argv) > 4 else None',
    'sig = dkim.sign(msg, sys.argv[2].encode(), sys.argv[1].encode(), sys.argv[3].encode(), identity=identity, include_headers=[b"from", b"to", b"subject"])',
    'sys.stdout.buffer.write(sig + msg)',
  ].join('\n');
  const run = spawnSync('/usr/bin/python3', ['-c', script, domain, selector, key.privateKey, ...(identity ? [identity] : [])], { input: Buffer.from(raw, 'latin1') });
  if (run.status !== 0) throw new Error(`python3-dkim failed: ${run.stderr.toString()}`);
  return run.stdout.toString('latin1');
}

/**
 * `raw` (CRLF lines, carrying an Authentication-Results field of `authservId`) with an ARC set
 * (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) added by dkimpy's arc_sign, as a
 * forwarding host would.
 */
export function sealWithDkimpy(raw: string, domain: string, selector: string, key: DkimKey, authservId: string): string {
  const script = [
    'import sys, dkim',
    'msg = sys.stdin.buffer.read()',
    // dkim.arc_sign(message, selector, domain, private key PEM, authserv-id)
    'headers = dkim.arc_sign(msg, sys.argv[2].encode(), sys.argv[1].encode(), sys.argv[3].encode(), sys.argv[4].encode())',
    'if not headers: sys.exit("arc_sign made no seal")',
    'sys.stdout.buffer.write(b"".join(headers) + msg)',
  ].join('\n');
  const run = spawnSync('/usr/bin/python3', ['-c', script, domain, selector, key.privateKey, authservId], { input: Buffer.from(raw, 'latin1') });
  if (run.status !== 0) throw new Error(`python3-dkim arc_sign failed: ${run.stderr.toString()}`);
  return run.stdout.toString('latin1');
}
