import type { Attachment, SimpleParserOptions } from 'mailparser';
import { isFeedbackHead, dmarcSummary } from './dmarc.js';
import { expand, type ExpandBudget } from './expand.js';
import { statusSummary } from './status-fields.js';
import { DMARC_TYPE, precheck, REPORT_FILE, REPORT_TYPES, TLSRPT_TYPE, type Candidates, type ReportKind } from './structure.js';
import { isJsonObjectHead, tlsrptSummary } from './tlsrpt.js';
import type { DetectReportOptions, ReportSummary } from './types.js';

export type { ArfSummary, DetectReportOptions, DmarcSummary, DsnRecipient, DsnSummary, MdnSummary, ReportSummary, TlsrptSummary } from './types.js';

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_MAX_PARSE_BYTES = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 2000;
/** Attachments expanded and looked into. */
const MAX_ATTACHMENTS = 8;

/**
 * Whether a message is a report (DSN, MDN, ARF, DMARC aggregate, TLS report), and a summary of it;
 * undefined for any other message and for anything that cannot be read. Never throws, and settles
 * within `timeoutMs` (2 s): a message that takes longer is no report.
 *
 * The MIME structure is walked over the raw bytes first (headers of the top level and of up to 32
 * parts, two levels deep); only a message that has a multipart/report or an attachment that may be
 * a report is parsed (with mailparser), so ordinary mail costs a header scan. A message larger than
 * `maxParseBytes` (4 MB) is never parsed: a multipart/report is then its report-type without the
 * summary fields, anything else no report. Compressed attachments are expanded asynchronously, all
 * of a message's together to at most `maxBytes` (10 MB); past it (a zip bomb) they are no report.
 */
export async function detectReport(message: Buffer, options: DetectReportOptions = {}): Promise<ReportSummary | undefined> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, undefined);
  });
  try {
    return await Promise.race([classify(message, options, controller.signal).catch(() => undefined), timedOut]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    // stops an expansion still going after the timeout
    controller.abort();
  }
}

const PARSER_OPTIONS = {
  keepDeliveryStatus: true,
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  checksumAlgo: false,
} as unknown as SimpleParserOptions;

async function classify(message: Buffer, options: DetectReportOptions, signal: AbortSignal): Promise<ReportSummary | undefined> {
  const candidates = precheck(message);
  if (!candidates) return undefined;
  const report = candidates.reportType !== undefined ? REPORT_TYPES[candidates.reportType] : undefined;
  if (message.length > (options.maxParseBytes ?? DEFAULT_MAX_PARSE_BYTES)) return report ? bare(report.type) : undefined;
  // mailparser (about 36 MB with its HTML and charset tables) is loaded with the first message that
  // may be a report, so an ingress without rabbitmq-reports, or that never receives one, never loads it
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(message, PARSER_OPTIONS);
  if (signal.aborted) return undefined;
  const budget: ExpandBudget = { remaining: options.maxBytes ?? DEFAULT_MAX_BYTES, signal };
  return summarize(parsed.attachments, candidates, budget);
}

/** A report known by its report-type only. */
function bare(type: ReportKind): ReportSummary {
  return type === 'dsn' ? { type, recipients: [] } : { type };
}

/** Whether expanded content is worth reading on: a `<feedback>` document or a JSON object. */
const reportHead = (head: string) => isFeedbackHead(head) || isJsonObjectHead(head);

async function summarize(attachments: Attachment[], candidates: Candidates, budget: ExpandBudget): Promise<ReportSummary | undefined> {
  if (candidates.reportType !== undefined) {
    const { type, parts } = REPORT_TYPES[candidates.reportType]!;
    const machine = attachments.find((a) => parts.includes(a.contentType.toLowerCase()));
    if (type === 'tlsrpt') {
      const summary = machine && tlsrptSummary(await expand(machine.content, budget, isJsonObjectHead));
      if (summary) return summary;
    } else {
      return statusSummary(type, machine ? machine.content.toString('utf8') : '');
    }
  }
  let looked = 0;
  for (const attachment of attachments) {
    if (!isReportAttachment(attachment)) continue;
    if (looked++ >= MAX_ATTACHMENTS || budget.signal.aborted) break;
    const content = await expand(attachment.content, budget, reportHead);
    if (!content) continue;
    const summary = dmarcSummary(content) ?? tlsrptSummary(content);
    if (summary) return summary;
  }
  // a multipart/report; report-type=tlsrpt whose report could not be read is a TLS report all the same
  return candidates.reportType === 'tlsrpt' ? { type: 'tlsrpt' } : undefined;
}

function isReportAttachment(attachment: Attachment): boolean {
  const type = attachment.contentType.toLowerCase();
  return TLSRPT_TYPE.test(type) || DMARC_TYPE.test(type) || REPORT_FILE.test(attachment.filename ?? '');
}
