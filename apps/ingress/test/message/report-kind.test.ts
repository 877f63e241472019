import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { detectReport } from '../../src/message/report-kind.js';
import {
  arf,
  base64Lines,
  DMARC_SUMMARY,
  DMARC_XML,
  dmarcGzip,
  dmarcZip,
  globalDsn,
  mdn,
  nestedDsn,
  plainText,
  postfixDsn,
  tlsrpt,
  withAttachment,
  withPdf,
} from './report-fixtures.js';

const POSTFIX_RECIPIENTS = [
  { recipient: 'bob@example.com', action: 'failed', status: '5.1.1' },
  { recipient: 'carol@example.com', action: 'delayed', status: '4.4.1' },
];

test('a Postfix bounce is a DSN with its recipients, actions and status codes', async () => {
  assert.deepEqual(await detectReport(postfixDsn()), { type: 'dsn', recipients: POSTFIX_RECIPIENTS });
});

test('a DSN nested one level inside a multipart/mixed (forwarded) is a DSN', async () => {
  assert.deepEqual(await detectReport(nestedDsn()), { type: 'dsn', recipients: POSTFIX_RECIPIENTS });
});

test('RFC 6533 message/global-delivery-status (base64, UTF-8 address) is a DSN', async () => {
  assert.deepEqual(await detectReport(globalDsn()), {
    type: 'dsn',
    recipients: [{ recipient: 'jörg@bücher.example', action: 'failed', status: '5.2.2' }],
  });
});

test('a multipart/report of delivery-status without its machine-readable part is a DSN with no recipients', async () => {
  const dsn = Buffer.from('Subject: bounce\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n');
  assert.deepEqual(await detectReport(dsn), { type: 'dsn', recipients: [] });
  const noBoundary = Buffer.from('Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno boundary\r\n');
  assert.deepEqual(await detectReport(noBoundary), { type: 'dsn', recipients: [] });
});

test('an RFC 8098 MDN gives its disposition and the original message id', async () => {
  assert.deepEqual(await detectReport(mdn()), {
    type: 'mdn',
    disposition: 'manual-action/MDN-sent-manually; displayed',
    'original-message-id': '<199509192301.23456@example.org>',
  });
});

test('an RFC 5965 ARF report gives its feedback type and source IP', async () => {
  assert.deepEqual(await detectReport(arf()), { type: 'arf', 'feedback-type': 'abuse', 'source-ip': '192.0.2.1' });
});

test('a zipped DMARC aggregate report (multipart/mixed attachment)', async () => {
  assert.deepEqual(await detectReport(dmarcZip()), DMARC_SUMMARY);
});

test('a gzipped DMARC aggregate report (the whole message is the .xml.gz)', async () => {
  assert.deepEqual(await detectReport(dmarcGzip()), DMARC_SUMMARY);
});

test('DMARC: plain XML attachment, a namespace prefix, entities, and an octet-stream named .zip', async () => {
  const xml = DMARC_XML.replace(/<(\/?)([a-z_]+)/g, '<$1d:$2')
    .replace('<d:feedback>', '<d:feedback xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0">')
    .replace('google.com</d:org_name>', 'Google &amp; Co</d:org_name>');
  const expected = { ...DMARC_SUMMARY, 'org-name': 'Google & Co' };
  assert.deepEqual(await detectReport(withAttachment('text/xml', 'report.xml', Buffer.from(xml))), expected);
  const zip = zipSync({ 'report.xml': Buffer.from(DMARC_XML) });
  assert.deepEqual(await detectReport(withAttachment('application/octet-stream', 'example.org!1.zip', zip)), DMARC_SUMMARY);
  assert.deepEqual(await detectReport(withAttachment('application/x-zip-compressed', 'r.zip', zip)), DMARC_SUMMARY);
});

test('an RFC 8460 TLS report (application/tlsrpt+gzip) gives its organization and report id', async () => {
  assert.deepEqual(await detectReport(tlsrpt()), {
    type: 'tlsrpt',
    'organization-name': 'Company-X',
    'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
  });
});

test('ordinary mail is no report: plain text, a PDF, a zip of documents, XML that is not <feedback>', async () => {
  assert.equal(await detectReport(plainText()), undefined);
  assert.equal(await detectReport(withPdf(200 * 1024)), undefined);
  const docs = zipSync({ 'minutes.txt': Buffer.from('Minutes of the meeting\n'), 'photo.jpg': randomBytes(4096) });
  assert.equal(await detectReport(withAttachment('application/zip', 'documents.zip', docs, 'The documents')), undefined);
  const invoice = '<?xml version="1.0"?><Invoice><ID>42</ID><feedback>none</feedback></Invoice>';
  assert.equal(await detectReport(withAttachment('application/xml', 'invoice.xml', Buffer.from(invoice), 'Invoice')), undefined);
  assert.equal(await detectReport(withAttachment('application/gzip', 'log.json.gz', gzipSync('{"hello":"world"}'), 'Logs')), undefined);
});

test('a zip bomb (and a gzip bomb) past maxBytes is no report, and is given up quickly', async () => {
  const big = Buffer.alloc(64 * 1024 * 1024, 0x20);
  const xml = Buffer.concat([Buffer.from(DMARC_XML.replace('</feedback>', '')), big, Buffer.from('</feedback>\n')]);
  const zip = zipSync({ 'report.xml': xml }, { level: 9 });
  const gz = gzipSync(xml, { level: 9 });
  assert.ok(zip.length < 200 * 1024 && gz.length < 200 * 1024, `compressed ${zip.length} / ${gz.length} bytes`);
  for (const message of [withAttachment('application/zip', 'report.zip', zip), withAttachment('application/gzip', 'report.xml.gz', gz)]) {
    const started = process.hrtime.bigint();
    assert.equal(await detectReport(message), undefined);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 1000, `gave up after ${ms} ms`);
  }
  // the same report under a small cap: only the cap decides
  assert.equal(await detectReport(dmarcZip(), { maxBytes: 1000 }), undefined);
  assert.equal(await detectReport(dmarcGzip(), { maxBytes: 1000 }), undefined);
  assert.deepEqual(await detectReport(dmarcZip(), { maxBytes: 10_000 }), DMARC_SUMMARY);
});

test('garbage is no report and never throws', async () => {
  const cases: Buffer[] = [
    Buffer.alloc(0),
    randomBytes(10_000),
    Buffer.from('\r\n\r\n'),
    Buffer.from('Content-Type: multipart/report; report-type=nonsense; boundary=x\r\n\r\n--x\r\n\r\ny\r\n--x--\r\n'),
    withAttachment('application/zip', 'report.zip', Buffer.from('PK\x03\x04 truncated garbage')),
    withAttachment('application/gzip', 'report.xml.gz', Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])),
    withAttachment('application/zip', 'report.zip', randomBytes(3000)),
    Buffer.from(`Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(randomBytes(100))}`),
    Buffer.from('Content-Type: application/tlsrpt+json\r\n\r\n{"organization-name": '),
  ];
  for (const message of cases) assert.equal(await detectReport(message), undefined, message.subarray(0, 80).toString('latin1'));
});
