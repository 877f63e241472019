/**
 * Envelope data for injection paths that have no SMTP transaction (spool files, CLI): the sender and
 * recipients are taken from the message headers instead.
 */

import { decodeHeaderValue } from './header-words.js';
import { firstAddress, parseAddressList } from './address.js';
import { fieldName, fieldValue, scanHeaders } from './header-block.js';

/** I5: the first of these headers that holds a valid address supplies the envelope sender. */
const SENDER_SOURCES = ['x-mq-envelope', 'return-path', 'from', 'sender'] as const;
const RECIPIENT_SOURCES = ['to', 'cc', 'bcc'] as const;

/** Raw unfolded values of the wanted fields, grouped by lower-case name, in message order. */
function collect(mime: Buffer, wanted: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  scanHeaders(mime, (start, colon, end) => {
    const name = fieldName(mime, start, colon);
    if (!wanted.includes(name)) return;
    const value = fieldValue(mime, colon, end);
    const values = found.get(name);
    if (values === undefined) found.set(name, [value]);
    else values.push(value);
  });
  return found;
}

/** First valid address in x-mq-envelope, Return-Path, From, Sender (I5), or `undefined`. */
export function envelopeFromMime(mime: Buffer): string | undefined {
  const found = collect(mime, SENDER_SOURCES);
  for (const name of SENDER_SOURCES) {
    for (const raw of found.get(name) ?? []) {
      // Only x-mq-* values are RFC 2047 decoded (§5); in address headers encoded words can only
      // appear in display names, which are skipped anyway.
      const address = firstAddress(name === 'x-mq-envelope' ? decodeHeaderValue(raw) : raw);
      if (address !== undefined) return address;
    }
  }
  return undefined;
}

/**
 * Every address in To, then Cc, then Bcc (C36: one JSON per address). Repeats are dropped,
 * compared case-insensitively, so one recipient is not delivered twice.
 */
export function recipientsFromMime(mime: Buffer): string[] {
  const found = collect(mime, RECIPIENT_SOURCES);
  const seen = new Set<string>();
  const recipients: string[] = [];
  for (const name of RECIPIENT_SOURCES) {
    for (const raw of found.get(name) ?? []) {
      for (const address of parseAddressList(raw)) {
        const key = address.toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        recipients.push(address);
      }
    }
  }
  return recipients;
}
