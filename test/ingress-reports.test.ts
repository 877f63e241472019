import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestBroker, uniqueName } from './helpers/amqp.js';
import { startMtaq, writeConfig, type MtaqProcess } from './helpers/process.js';
import { SmtpTalk } from './helpers/smtp.js';
import { freePort } from './helpers/ports.js';
import { arf, DMARC_SUMMARY, dmarcGzip, dmarcZip, mdn, nestedDsn, plainText, postfixDsn, tlsrpt } from '../apps/ingress/test/message/report-fixtures.js';

const POSTFIX_RECIPIENTS = [
  { recipient: 'bob@example.com', action: 'failed', status: '5.1.1' },
  { recipient: 'carol@example.com', action: 'delayed', status: '4.4.1' },
];

/**
 * Reports over real SMTP: local mail that is a DSN, MDN, ARF, DMARC aggregate or TLS report goes
 * to rabbitmq-reports with its summary as `report`; other local mail to rabbitmq-local; mail to
 * anyone else to the inbox, report or not.
 */
describe('ingress → reports', () => {
  const inbox = uniqueName('inbox');
  const local = uniqueName('local');
  const reports = uniqueName('reports');
  let broker: TestBroker;
  let mtaq: MtaqProcess;
  let port: number;

  before(async () => {
    broker = await TestBroker.open();
    port = await freePort();
    const config = writeConfig(
      [
        'smtp-ip: 127.0.0.1',
        `smtp-port: ${port}`,
        'smtp-hostname: mx.ours.test',
        // the test client may relay, so a report to someone else is accepted too
        'smtp-range: 127.0.0.0/8',
        'smtp-maxsize: 1MB',
        'smtp-local-addresses: @ours.test',
        'redis-address:',
        'rabbitmq-address: amqp://guest:guest@127.0.0.1/',
        `rabbitmq-inbox: ${inbox}`,
        `rabbitmq-local: ${local}`,
        `rabbitmq-reports: ${reports}`,
      ].join('\n'),
    );
    mtaq = await startMtaq('ingress', ['--config-file', config]);
  });

  after(async () => {
    if (mtaq) assert.equal(await mtaq.stop(), 0, 'ingress exits 0 on SIGTERM');
    await broker.deleteQueues(inbox, local, reports);
    await broker.close();
  });

  async function send(from: string, to: string[], message: Buffer): Promise<void> {
    const smtp = await SmtpTalk.connect(port);
    assert.equal((await smtp.read()).code, 220);
    await smtp.command('EHLO client.example');
    const reply = await smtp.send(from, to, message.toString('utf8'));
    await smtp.quit();
    assert.equal(reply.code, 250, reply.lines.join(' | '));
  }

  async function nothingElse(): Promise<void> {
    assert.equal(await broker.count(inbox), 0, 'inbox');
    assert.equal(await broker.count(local), 0, 'local');
    assert.equal(await broker.count(reports), 0, 'reports');
  }

  const cases: Array<[string, () => Buffer, string, object]> = [
    ['a Postfix DSN', postfixDsn, '', { type: 'dsn', recipients: POSTFIX_RECIPIENTS }],
    ['a DSN forwarded inside a multipart/mixed', nestedDsn, 'helpdesk@example.org', { type: 'dsn', recipients: POSTFIX_RECIPIENTS }],
    ['an MDN', mdn, '', { type: 'mdn', disposition: 'manual-action/MDN-sent-manually; displayed', 'original-message-id': '<199509192301.23456@example.org>' }],
    ['an ARF report', arf, 'abusedesk@example.com', { type: 'arf', 'feedback-type': 'abuse', 'source-ip': '192.0.2.1' }],
    ['a zipped DMARC aggregate report', dmarcZip, 'noreply-dmarc-support@google.com', DMARC_SUMMARY],
    ['a gzipped DMARC aggregate report', dmarcGzip, 'dmarc-reports@example.net', DMARC_SUMMARY],
    ['a TLS report', tlsrpt, 'tlsrpt@mail.sender.example.com', { type: 'tlsrpt', 'organization-name': 'Company-X', 'report-id': '5065427c-23d3-47ca-b6e0-946ea0e8c4be' }],
  ];
  for (const [name, message, from, report] of cases) {
    test(`${name} to a local address goes to rabbitmq-reports with its summary`, async () => {
      await send(from, ['postmaster@ours.test'], message());
      const [doc] = await broker.takeJson(reports, 1);
      assert.ok(doc, 'on the reports queue');
      assert.equal(doc['recipient'], 'postmaster@ours.test');
      assert.deepEqual(doc['report'], report);
      await nothingElse();
    });
  }

  test('ordinary mail to the same local address goes to rabbitmq-local, without a report', async () => {
    await send('alice@example.org', ['postmaster@ours.test'], plainText());
    const [doc] = await broker.takeJson(local, 1);
    assert.ok(doc, 'on the local queue');
    assert.ok(!('report' in doc), JSON.stringify(doc['report']));
    await nothingElse();
  });

  test('a report to a non-local recipient goes to the inbox; to both, one copy each way', async () => {
    await send('', ['bob@elsewhere.example'], postfixDsn());
    const [far] = await broker.takeJson(inbox, 1);
    assert.ok(far, 'on the inbox');
    assert.equal(far['recipient'], 'bob@elsewhere.example');
    await nothingElse();

    await send('', ['bob@elsewhere.example', 'postmaster@ours.test'], dmarcZip());
    const [toInbox] = await broker.takeJson(inbox, 1);
    const [toReports] = await broker.takeJson(reports, 1);
    assert.equal(toInbox?.['recipient'], 'bob@elsewhere.example');
    assert.equal(toReports?.['recipient'], 'postmaster@ours.test');
    assert.deepEqual(toReports?.['report'], DMARC_SUMMARY);
    await nothingElse();
  });
});
