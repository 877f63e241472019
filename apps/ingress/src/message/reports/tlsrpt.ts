import { clip, compact, type TlsrptSummary } from './types.js';

/** SMTP TLS reports (RFC 8460): a JSON object. */

/** Whether a document starting with `head` may be a JSON object. */
export function isJsonObjectHead(head: string): boolean {
  return /^\s*\{/.test(head);
}

export function tlsrptSummary(content: Buffer | undefined): TlsrptSummary | undefined {
  if (!content) return undefined;
  const text = content.toString('utf8').trim();
  if (!text.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const report = json as Record<string, unknown>;
  if (!('organization-name' in report) && !('report-id' in report) && !Array.isArray(report['policies'])) return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? clip(v) : undefined);
  return compact({ type: 'tlsrpt' as const, 'organization-name': str(report['organization-name']), 'report-id': str(report['report-id']) });
}
