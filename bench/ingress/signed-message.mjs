// Writes a DKIM-signed message of about SIZE bytes and the DNS records that make it pass SPF, DKIM
// and DMARC for a client on 127.0.0.1:  node bench/ingress/signed-message.mjs DIR [SIZE]
//   DIR/message.eml   the signed message (From: bench@bench.example, selector s1)
//   DIR/dnsmasq.conf  txt-record lines for SPF, the DKIM key and DMARC (p=none)
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

const [dir, size = '1000'] = process.argv.slice(2);
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
const head = 'From: Bench <bench@bench.example>\r\nTo: <rcpt@example.org>\r\nSubject: checks bench\r\nMessage-ID: <bench@bench.example>\r\nDate: Tue, 01 Dec 2026 07:00:00 +0000\r\n\r\n';
const body = line.repeat(Math.max(1, Math.round((Number(size) - head.length - 540) / line.length)));
const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
const info = await transport.sendMail({
  envelope: { from: 'bench@bench.example', to: ['rcpt@example.org'] },
  raw: head + body,
  dkim: { domainName: 'bench.example', keySelector: 's1', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) },
});
writeFileSync(join(dir, 'message.eml'), info.message);
// a 2048-bit key is longer than one TXT string (255 bytes): dnsmasq takes several, comma-separated
const record = `v=DKIM1; k=rsa; p=${p}`;
const strings = record.match(/.{1,250}/g).map((s) => `"${s}"`).join(',');
writeFileSync(
  join(dir, 'dnsmasq.conf'),
  [
    'txt-record=bench.example,"v=spf1 ip4:127.0.0.1 -all"',
    `txt-record=s1._domainkey.bench.example,${strings}`,
    'txt-record=_dmarc.bench.example,"v=DMARC1; p=none"',
    '',
  ].join('\n'),
);
console.log(info.message.length);
