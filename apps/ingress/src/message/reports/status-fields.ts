import { clip, compact, type ArfSummary, type DsnRecipient, type DsnSummary, type MdnSummary } from './types.js';

/** The machine-readable parts of DSNs (RFC 3464/6533), MDNs (RFC 8098) and ARF reports (RFC 5965). */

const MAX_RECIPIENTS = 100;

/** The summary of a DSN, MDN or ARF report from the text of its machine-readable part ('' when it has none). */
export function statusSummary(type: 'dsn' | 'mdn' | 'arf', text: string): DsnSummary | MdnSummary | ArfSummary {
  if (type === 'dsn') return { type, recipients: dsnRecipients(text) };
  const fields = statusFields(text)[0] ?? new Map<string, string>();
  if (type === 'mdn') return compact({ type, disposition: fields.get('disposition'), 'original-message-id': fields.get('original-message-id') });
  return compact({ type, 'feedback-type': fields.get('feedback-type')?.toLowerCase(), 'source-ip': fields.get('source-ip') });
}

/**
 * Field blocks: groups of `Name: value` lines separated by empty lines, continuation lines unfolded,
 * names lower-cased, values without comments and whitespace collapsed.
 */
function statusFields(text: string): Array<Map<string, string>> {
  const blocks: Array<Map<string, string>> = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.replace(/\n[ \t]+/g, ' ').split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      if (!fields.has(name)) fields.set(name, clip(line.slice(colon + 1)));
    }
    if (fields.size) blocks.push(fields);
  }
  return blocks;
}

function dsnRecipients(text: string): DsnRecipient[] {
  const recipients: DsnRecipient[] = [];
  for (const fields of statusFields(text)) {
    const address = fields.get('final-recipient') ?? fields.get('original-recipient');
    if (address === undefined) continue;
    const status = fields.get('status');
    recipients.push(
      compact({
        // `rfc822; bob@example.com`, `utf-8; bob@example.com`
        recipient: address.replace(/^[\w-]+\s*;\s*/, ''),
        action: fields.get('action')?.replace(/\s*\(.*$/, '').toLowerCase(),
        status: status === undefined ? undefined : (/\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(status)?.[0] ?? status),
      }),
    );
    if (recipients.length >= MAX_RECIPIENTS) break;
  }
  return recipients;
}
