/**
 * Reports as they arrive in real life (Postfix DSN, RFC 8098 MDN, RFC 5965 ARF, DMARC aggregate
 * reports as Google and others send them, RFC 8460 TLS report), and ordinary mail that is none.
 * Shared by the report-kind unit tests and the ingress end-to-end test.
 */
import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

/** Base64 in 76-character lines, as mail clients write it. */
export function base64Lines(data: Uint8Array): string {
  return (Buffer.from(data).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

const POSTFIX_BOUNDARY = '4F1A2B3C4D.1764572400/mx.example.net';

/** The body of a Postfix bounce: notification, delivery report (two recipients) and the headers. */
function postfixReportBody(): string[] {
  return [
    `--${POSTFIX_BOUNDARY}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'This is the mail system at host mx.example.net.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients. It\'s attached below.',
    '',
    '                   The mail system',
    '',
    '<bob@example.com>: host mx.example.com[192.0.2.25] said: 550 5.1.1',
    '    <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox',
    '    table (in reply to RCPT TO command)',
    '',
    `--${POSTFIX_BOUNDARY}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    'X-Postfix-Queue-ID: 4F1A2B3C4D',
    'X-Postfix-Sender: rfc822; alice@example.org',
    'Arrival-Date: Tue,  1 Dec 2026 06:59:58 +0000 (UTC)',
    '',
    'Final-Recipient: rfc822; bob@example.com',
    'Original-Recipient: rfc822;bob@example.com',
    'Action: failed',
    'Status: 5.1.1',
    'Remote-MTA: dns; mx.example.com',
    'Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected:',
    '    User unknown in virtual mailbox table',
    '',
    'Final-Recipient: rfc822; carol@example.com',
    'Original-Recipient: rfc822;carol@example.com',
    'Action: delayed',
    'Status: 4.4.1 (connection timed out)',
    'Remote-MTA: dns; mx2.example.com',
    'Diagnostic-Code: X-Postfix; connect to mx2.example.com[192.0.2.26]:25: Connection',
    '    timed out',
    'Will-Retry-Until: Tue,  6 Dec 2026 06:59:58 +0000 (UTC)',
    '',
    `--${POSTFIX_BOUNDARY}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Return-Path: <alice@example.org>',
    'Received: from client.example.org (client.example.org [198.51.100.7])',
    '\tby mx.example.net (Postfix) with ESMTPSA id 4F1A2B3C4D;',
    '\tTue,  1 Dec 2026 06:59:58 +0000 (UTC)',
    'From: Alice <alice@example.org>',
    'To: bob@example.com, carol@example.com',
    'Subject: Quarterly numbers',
    'Message-ID: <q4-numbers@example.org>',
    '',
    `--${POSTFIX_BOUNDARY}--`,
    '',
  ];
}

/** A bounce as Postfix writes it (RFC 3464), one failed and one delayed recipient. */
export function postfixDsn(): Buffer {
  return crlf([
    'Return-Path: <>',
    'Received: by mx.example.net (Postfix) id 4F1A2B3C4D; Tue,  1 Dec 2026 07:00:00 +0000 (UTC)',
    'Date: Tue,  1 Dec 2026 07:00:00 +0000 (UTC)',
    'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    'To: alice@example.org',
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status;',
    `\tboundary="${POSTFIX_BOUNDARY}"`,
    'Content-Transfer-Encoding: 8bit',
    'Message-Id: <20261201070000.5A6B7C8D9E@mx.example.net>',
    '',
    'This is a MIME-encapsulated message.',
    '',
    ...postfixReportBody(),
  ]);
}

/**
 * The Postfix bounce with the whole message returned (RET=FULL) in place of its headers: a
 * message/rfc822 part with a text body of about `size` bytes.
 */
export function postfixDsnFull(size: number): Buffer {
  const body = postfixReportBody();
  const headersAt = body.indexOf('Content-Description: Undelivered Message Headers') - 1;
  const line = 'Quarterly numbers, line after line of them, as the original message had them.';
  const text = Buffer.alloc(size, line + '\r\n').toString('latin1');
  return Buffer.concat([
    postfixDsn().subarray(0, postfixDsn().indexOf('This is a MIME-encapsulated message.')),
    crlf([
      'This is a MIME-encapsulated message.',
      '',
      ...body.slice(0, headersAt),
      `--${POSTFIX_BOUNDARY}`,
      'Content-Description: Undelivered Message',
      'Content-Type: message/rfc822',
      'Content-Transfer-Encoding: 8bit',
      '',
      'From: Alice <alice@example.org>',
      'To: bob@example.com, carol@example.com',
      'Subject: Quarterly numbers',
      'Message-ID: <q4-numbers@example.org>',
      '',
      text,
      `--${POSTFIX_BOUNDARY}--`,
      '',
    ]),
  ]);
}

/** The same bounce forwarded as one part of a multipart/mixed, as some forwarders send it. */
export function nestedDsn(): Buffer {
  return crlf([
    'From: helpdesk@example.org',
    'To: postmaster@ours.test',
    'Subject: Fwd: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer-7d1f"',
    '',
    '--outer-7d1f',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'See the bounce below.',
    '',
    '--outer-7d1f',
    'Content-Type: multipart/report; report-type="delivery-status";',
    `  boundary="${POSTFIX_BOUNDARY}"`,
    '',
    ...postfixReportBody(),
    '--outer-7d1f--',
    '',
  ]);
}

/** RFC 6533: a UTF-8 DSN whose message/global-delivery-status part is base64. */
export function globalDsn(): Buffer {
  const status = [
    'Reporting-MTA: dns; mx.example.net',
    '',
    'Final-Recipient: utf-8; jörg@bücher.example',
    'Action: failed',
    'Status: 5.2.2',
    'Diagnostic-Code: smtp; 552 5.2.2 mailbox full',
    '',
  ].join('\r\n');
  return crlf([
    'From: MAILER-DAEMON@mx.example.net',
    'To: alice@example.org',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="g1"',
    '',
    '--g1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Mailbox full.',
    '--g1',
    'Content-Type: message/global-delivery-status',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(status, 'utf8')),
    '--g1--',
    '',
  ]);
}

/** The RFC 8098 example: a manually sent "displayed" notification. */
export function mdn(): Buffer {
  return crlf([
    'Date: Wed, 20 Sep 1995 00:19:00 (EDT) -0400',
    'From: Joe Recipient <Joe_Recipient@example.com>',
    'Message-Id: <199509200019.12345@example.com>',
    'Subject: Disposition notification',
    'To: Jane Sender <Jane_Sender@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=disposition-notification;',
    '\tboundary="RAA14128.773615765/example.com"',
    '',
    '--RAA14128.773615765/example.com',
    'Content-type: text/plain',
    '',
    'The message sent on 1995 Sep 19 at 13:30:00 (EDT) -0400 to Joe',
    'Recipient <Joe_Recipient@example.com> with subject "First draft of',
    'report" has been displayed.',
    '',
    '--RAA14128.773615765/example.com',
    'content-type: message/disposition-notification',
    '',
    'Reporting-UA: joes-pc.cs.example.com; Foomail 97.1',
    'Original-Recipient: rfc822;Joe_Recipient@example.com',
    'Final-Recipient: rfc822;Joe_Recipient@example.com',
    'Original-Message-ID: <199509192301.23456@example.org>',
    'Disposition: manual-action/MDN-sent-manually; displayed',
    '',
    '--RAA14128.773615765/example.com',
    'content-type: message/rfc822',
    '',
    'From: Jane Sender <Jane_Sender@example.org>',
    'Subject: First draft of report',
    '',
    'Draft attached.',
    '',
    '--RAA14128.773615765/example.com--',
    '',
  ]);
}

/** The RFC 5965 appendix B.2 example abuse report. */
export function arf(): Buffer {
  return crlf([
    'From: <abusedesk@example.com>',
    'Date: Thu, 8 Mar 2005 17:40:36 EDT',
    'Subject: FW: Earn money',
    'To: <abuse@example.net>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report;',
    '     boundary="part1_13d.2e68ed54_boundary"',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP',
    '192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information',
    'about this format please see http://www.mipassoc.org/arf/.',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    'Original-Mail-From: <somespammer@example.net>',
    'Original-Rcpt-To: <user@example.com>',
    'Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT',
    'Reporting-MTA: dns; mail.example.com',
    'Source-IP: 192.0.2.1',
    'Authentication-Results: mail.example.com;',
    '               spf=fail smtp.mail=somespammer@example.com',
    'Reported-Domain: example.net',
    'Reported-Uri: http://example.net/earn_money.html',
    'Reported-Uri: mailto:user@example.com',
    'Removal-Recipient: user@example.com',
    '',
    '--part1_13d.2e68ed54_boundary',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'From: <somespammer@example.net>',
    'Received: from mailserver.example.net (mailserver.example.net',
    '        [192.0.2.1]) by example.com with ESMTP id M63d4137594e46;',
    '        Thu, 08 Mar 2005 14:00:00 -0400',
    'To: <Undisclosed Recipients>',
    'Subject: Earn money',
    'MIME-Version: 1.0',
    'Content-type: text/plain',
    'Message-ID: 8787KJKJ3K4J3K4J3K4J3.mail@example.net',
    'Date: Thu, 02 Sep 2004 12:31:03 -0500',
    '',
    'Spam Spam Spam',
    'Spam Spam Spam',
    '--part1_13d.2e68ed54_boundary--',
    '',
  ]);
}

/** A DMARC aggregate report (RFC 7489 appendix C) as Google writes it. */
export const DMARC_XML = `<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>5717107811868587391</report_id>
    <date_range>
      <begin>1764460800</begin>
      <end>1764547199</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.org</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>none</p>
    <sp>none</sp>
    <pct>100</pct>
    <np>none</np>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.7</source_ip>
      <count>2</count>
      <policy_evaluated>
        <disposition>none</disposition>
        <dkim>pass</dkim>
        <spf>pass</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>example.org</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>mail.example.org</domain>
        <result>pass</result>
        <selector>s1</selector>
      </dkim>
      <spf>
        <domain>bounce.example.org</domain>
        <result>pass</result>
      </spf>
    </auth_results>
  </record>
</feedback>
`;

export const DMARC_SUMMARY = {
  type: 'dmarc',
  'org-name': 'google.com',
  'report-id': '5717107811868587391',
  domain: 'example.org',
  begin: 1764460800,
  end: 1764547199,
} as const;

const DMARC_NAME = 'google.com!example.org!1764460800!1764547199';

/** One attachment in a multipart/mixed with a short text, as DMARC reporters send it. */
export function withAttachment(type: string, filename: string, data: Uint8Array, subject = `Report domain: example.org Submitter: google.com Report-ID: <5717107811868587391>`): Buffer {
  return crlf([
    'From: noreply-dmarc-support@google.com',
    'To: dmarc@ours.test',
    `Subject: ${subject}`,
    'Message-ID: <5717107811868587391@google.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="000000000000a1b2c3"',
    '',
    '--000000000000a1b2c3',
    'Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes',
    '',
    'This is an aggregate report from google.com.',
    '',
    '--000000000000a1b2c3',
    `Content-Type: ${type}; name="${filename}"`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(data),
    '--000000000000a1b2c3--',
    '',
  ]);
}

/** Several attachments in one multipart/mixed, as in withAttachment. */
export function withAttachments(attachments: Array<{ type: string; filename: string; data: Uint8Array }>, subject = 'Reports'): Buffer {
  const boundary = '000000000000d4e5f6';
  return crlf([
    'From: reports@example.net',
    'To: dmarc@ours.test',
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    ...attachments.flatMap(({ type, filename, data }) => [
      `--${boundary}`,
      `Content-Type: ${type}; name="${filename}"`,
      `Content-Disposition: attachment; filename="${filename}"`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(data),
    ]),
    `--${boundary}--`,
    '',
  ]);
}

/** The DMARC report zipped, in a multipart/mixed. */
export function dmarcZip(xml = DMARC_XML): Buffer {
  const zip = zipSync({ [`${DMARC_NAME}.xml`]: Buffer.from(xml, 'utf8') }, { level: 9 });
  return withAttachment('application/zip', `${DMARC_NAME}.zip`, zip);
}

/** The DMARC report gzipped, as the whole (single-part) message. */
export function dmarcGzip(xml = DMARC_XML): Buffer {
  return crlf([
    'From: dmarc-reports@example.net',
    'To: dmarc@ours.test',
    'Subject: Report Domain: example.org Submitter: example.net Report-ID: 5717107811868587391',
    'MIME-Version: 1.0',
    `Content-Type: application/gzip; name="${DMARC_NAME}.xml.gz"`,
    `Content-Disposition: attachment; filename="${DMARC_NAME}.xml.gz"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(gzipSync(Buffer.from(xml, 'utf8'))),
    '',
  ]);
}

/** RFC 8460 §5.3: a TLS report, gzipped JSON in a multipart/report; report-type="tlsrpt". */
export function tlsrpt(): Buffer {
  const report = {
    'organization-name': 'Company-X',
    'date-range': { 'start-datetime': '2016-04-01T00:00:00Z', 'end-datetime': '2016-04-01T23:59:59Z' },
    'contact-info': 'sts-reporting@company-x.example',
    'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: testing', 'mx: *.mail.company-y.example', 'max_age: 86400'], 'policy-domain': 'company-y.example', 'mx-host': ['*.mail.company-y.example'] },
        summary: { 'total-successful-session-count': 5326, 'total-failure-session-count': 303 },
      },
    ],
  };
  return crlf([
    'From: tlsrpt@mail.sender.example.com',
    'Date: Fri, May 09 2017 16:54:30 -0800',
    'To: mts-sts-tlsrpt@ours.test',
    'Subject: Report Domain: company-y.example Submitter: mail.sender.example.com Report-ID: <735ff.e317+bf22029@mailexample.net>',
    'TLS-Report-Domain: company-y.example',
    'TLS-Report-Submitter: mail.sender.example.com',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type="tlsrpt";',
    '    boundary="----=_NextPart_000_024E_01CC9B0A.AFE54C00"',
    '',
    '------=_NextPart_000_024E_01CC9B0A.AFE54C00',
    'Content-Type: text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an aggregate TLS report from mail.sender.example.com',
    '',
    '------=_NextPart_000_024E_01CC9B0A.AFE54C00',
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment;',
    '    filename="mail.sender.example!company-y.example!1470013207!1470186007!001.json.gz"',
    '',
    base64Lines(gzipSync(Buffer.from(JSON.stringify(report)))),
    '------=_NextPart_000_024E_01CC9B0A.AFE54C00--',
    '',
  ]);
}

/** A plain-text message of about `size` bytes. */
export function plainText(size = 5 * 1024): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.';
  const lines: string[] = [];
  for (let bytes = 0; bytes < size; bytes += line.length + 2) lines.push(line);
  return crlf([
    'From: Alice <alice@example.org>',
    'To: postmaster@ours.test',
    'Subject: Lunch',
    'Date: Tue, 1 Dec 2026 07:00:00 +0000',
    'Message-ID: <lunch@example.org>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...lines,
    '',
  ]);
}

/** An ordinary message with a PDF of `size` bytes (pseudo-random, so base64 does not shrink). */
export function withPdf(size = 1024 * 1024): Buffer {
  const pdf = Buffer.alloc(size);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pdf[i] = x >>> 24;
  }
  Buffer.from('%PDF-1.7\n').copy(pdf);
  return withAttachment('application/pdf', 'invoice-2026-12.pdf', pdf, 'Your invoice');
}
