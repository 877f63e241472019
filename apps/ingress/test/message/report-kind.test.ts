import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { detectReport } from '../../src/message/reports/index.js';
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
  postfixDsnFull,
  tlsrpt,
  withAttachment,
  withAttachments,
  withPdf,
} from './report-fixtures.js';
import { multipartBodies } from '../../src/message/reports/structure.js';

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

/** What detectReport gives, how long it took, and the longest the event loop was blocked meanwhile. */
async function timed(message: Buffer, options?: Parameters<typeof detectReport>[1]) {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  const started = process.hrtime.bigint();
  const result = await detectReport(message, options);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  histogram.disable();
  return { result, ms, blockedMs: histogram.max / 1e6 };
}

/** A `<feedback>` document padded with `padding` bytes of blanks before its end. */
function paddedDmarc(padding: number): Buffer {
  return Buffer.concat([Buffer.from(DMARC_XML.replace('</feedback>', '')), Buffer.alloc(padding, ' \n'), Buffer.from('</feedback>\n')]);
}

test('a message above maxParseBytes is not parsed: a multipart/report is its report-type without the summary', async () => {
  const big = postfixDsnFull(6 * 1024 * 1024);
  assert.ok(big.length > 6 * 1024 * 1024);
  const { result, ms } = await timed(big);
  assert.deepEqual(result, { type: 'dsn', recipients: [] });
  assert.ok(ms < 500, `took ${ms} ms`);
  // under the limit the returned message does not matter
  assert.deepEqual(await detectReport(postfixDsnFull(100 * 1024)), { type: 'dsn', recipients: POSTFIX_RECIPIENTS });
  assert.deepEqual(await detectReport(postfixDsn(), { maxParseBytes: 1000 }), { type: 'dsn', recipients: [] });
  assert.deepEqual(await detectReport(mdn(), { maxParseBytes: 1000 }), { type: 'mdn' });
  assert.deepEqual(await detectReport(arf(), { maxParseBytes: 1000 }), { type: 'arf' });
  assert.deepEqual(await detectReport(tlsrpt(), { maxParseBytes: 1000 }), { type: 'tlsrpt' });
  // a DMARC attachment in a message too large to parse is no report
  assert.equal(await detectReport(dmarcZip(), { maxParseBytes: 1000 }), undefined);
  const zip = zipSync({ 'report.xml': Buffer.from(DMARC_XML) });
  const withBigPdf = withAttachments([
    { type: 'application/pdf', filename: 'big.pdf', data: randomBytes(4 * 1024 * 1024) },
    { type: 'application/zip', filename: 'report.zip', data: zip },
  ]);
  const bigDmarc = await timed(withBigPdf);
  assert.equal(bigDmarc.result, undefined);
  assert.ok(bigDmarc.ms < 500, `took ${bigDmarc.ms} ms`);
});

test('a gzip of 10 MB of < and blanks is no report, without blocking the event loop', async () => {
  const gz = gzipSync(Buffer.alloc(10 * 1024 * 1024, '<  \n<\t'), { level: 9 });
  const { result, ms, blockedMs } = await timed(withAttachment('application/gzip', 'report.xml.gz', gz));
  assert.equal(result, undefined);
  assert.ok(blockedMs < 1000 && ms < 1000, `took ${ms} ms, blocked ${blockedMs} ms`);
});

test('a 9 MB DMARC report is expanded asynchronously: the event loop is never blocked for long', async () => {
  const gz = gzipSync(paddedDmarc(9 * 1024 * 1024), { level: 9 });
  const { result, ms, blockedMs } = await timed(withAttachment('application/gzip', 'report.xml.gz', gz));
  assert.deepEqual(result, DMARC_SUMMARY);
  assert.ok(blockedMs < 1000, `took ${ms} ms, blocked ${blockedMs} ms`);
});

test('maxBytes caps what all the attachments of a message expand to together', async () => {
  const filler = gzipSync(`{"filler":"${' '.repeat(40_000)}"}`);
  const attachments = [1, 2, 3].map((n) => ({ type: 'application/gzip', filename: `filler${n}.json.gz`, data: filler }));
  const message = withAttachments([...attachments, { type: 'application/gzip', filename: 'report.xml.gz', data: gzipSync(paddedDmarc(40_000)) }]);
  // each fits in 150 KB, all four do not
  assert.equal(await detectReport(message, { maxBytes: 150_000 }), undefined);
  assert.deepEqual(await detectReport(message, { maxBytes: 200_000 }), DMARC_SUMMARY);
  // a bomb uses the budget up even though it is no report: nothing after it is expanded
  const bomb = gzipSync(paddedDmarc(64 * 1024 * 1024), { level: 9 });
  const afterBomb = withAttachments([
    { type: 'application/gzip', filename: 'bomb.xml.gz', data: bomb },
    { type: 'application/gzip', filename: 'report.xml.gz', data: gzipSync(DMARC_XML) },
  ]);
  const { result, ms } = await timed(afterBomb);
  assert.equal(result, undefined);
  assert.ok(ms < 1000, `took ${ms} ms`);
  assert.deepEqual(await detectReport(afterBomb, { maxBytes: 100 * 1024 * 1024 }), DMARC_SUMMARY);
});

test('a message that takes longer than timeoutMs is no report, and the call settles at once', async () => {
  const gz = gzipSync(paddedDmarc(64 * 1024 * 1024), { level: 9 });
  const message = withAttachment('application/gzip', 'report.xml.gz', gz);
  const { result, ms } = await timed(message, { maxBytes: 1024 * 1024 * 1024, timeoutMs: 20 });
  assert.equal(result, undefined);
  assert.ok(ms < 300, `took ${ms} ms`);
});

test('a delimiter line is --boundary then blanks and the line end: --abc is not a prefix of --abcd', () => {
  const body = Buffer.from(
    ['preamble', '--abc', 'one', '--abcd', 'still one', '--abc\t ', 'two', '--abc-x', 'still two', '--abc--', 'epilogue'].join('\r\n'),
  );
  assert.deepEqual(
    [...multipartBodies(body, 'abc')].map((b) => b.toString()),
    ['one\r\n--abcd\r\nstill one\r\n', 'two\r\n--abc-x\r\nstill two\r\n'],
  );
  // LF line ends, and a delimiter at the very end (truncated message)
  assert.deepEqual([...multipartBodies(Buffer.from('--b\nx\n--b'), 'b')].map(String), ['x\n']);
});

test('a part that merely starts like a delimiter (--abcd in a part of --abc) is not a part of its own', async () => {
  const message = Buffer.from(
    [
      'Content-Type: multipart/mixed; boundary="abc"',
      '',
      '--abc',
      'Content-Type: text/plain',
      '',
      'A line that looks like a longer delimiter:',
      '--abcd',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="x"',
      '',
      '--x--',
      '--abc--',
      '',
    ].join('\r\n'),
  );
  assert.equal(await detectReport(message), undefined);
});
