import { clip, compact, type DmarcSummary } from './types.js';

/** DMARC aggregate reports (RFC 7489 appendix C): an XML document whose root is `<feedback>`. */

/** An XML document whose root is `<feedback>` (any namespace prefix). */
const FEEDBACK_ROOT = /^\uFEFF?\s*(?:(?:<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>)\s*)*<(?:[\w.-]+:)?feedback[\s>/]/;
/** Characters of the document in which its `<feedback>` root must start. */
const ROOT_WITHIN = 4096;

/** Whether a document starting with `head` is a `<feedback>` document. */
export function isFeedbackHead(head: string): boolean {
  return FEEDBACK_ROOT.test(head.slice(0, ROOT_WITHIN));
}

export function dmarcSummary(content: Buffer): DmarcSummary | undefined {
  const xml = content.toString('utf8');
  if (!isFeedbackHead(xml)) return undefined;
  const metadata = element(xml, 'report_metadata') ?? '';
  const dateRange = element(metadata, 'date_range') ?? '';
  const policy = element(xml, 'policy_published') ?? '';
  const epoch = (tag: string) => {
    const text = elementText(dateRange, tag);
    return text !== undefined && /^\d{1,12}$/.test(text) ? Number(text) : undefined;
  };
  return compact({
    type: 'dmarc' as const,
    'org-name': elementText(metadata, 'org_name'),
    'report-id': elementText(metadata, 'report_id'),
    domain: elementText(policy, 'domain'),
    begin: epoch('begin'),
    end: epoch('end'),
  });
}

/** The inside of the first `<name>…</name>` (any namespace prefix). */
function element(xml: string, name: string): string | undefined {
  const open = new RegExp(`<(?:[\\w.-]+:)?${name}(?:\\s[^>]*)?>`).exec(xml);
  if (!open) return undefined;
  const from = open.index + open[0].length;
  const close = new RegExp(`</(?:[\\w.-]+:)?${name}\\s*>`).exec(xml.slice(from));
  return close ? xml.slice(from, from + close.index) : undefined;
}

function elementText(xml: string, name: string): string | undefined {
  const inner = element(xml, name);
  if (inner === undefined) return undefined;
  const text = inner
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, (_, data: string) => data.replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;')))
    .replace(/<[^>]*>/g, '')
    .replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
      const lower = e.toLowerCase();
      if (lower.startsWith('#x')) return safeCodePoint(parseInt(lower.slice(2), 16));
      if (lower.startsWith('#')) return safeCodePoint(parseInt(lower.slice(1), 10));
      return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[lower] ?? '';
    });
  const value = clip(text);
  return value === '' ? undefined : value;
}

function safeCodePoint(n: number): string {
  return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : '';
}
