/**
 * The `Received:` trace field ingress prepends (RFC 5321 §4.4). Values that come from the client
 * (HELO name, recipient) are sanitised, because a CR or LF in them would inject header lines.
 */

import { isIP } from 'node:net';

/** RFC 3848 / RFC 6531 `with` keywords. */
export type ReceivedProtocol =
  | 'SMTP'
  | 'ESMTP'
  | 'ESMTPS'
  | 'ESMTPA'
  | 'ESMTPSA'
  | 'LMTP'
  | 'LMTPS'
  | 'LMTPA'
  | 'LMTPSA'
  | 'UTF8SMTP'
  | 'UTF8SMTPS'
  | 'UTF8SMTPA'
  | 'UTF8SMTPSA'
  | 'UTF8LMTP'
  | 'UTF8LMTPS'
  | 'UTF8LMTPA'
  | 'UTF8LMTPSA';

export interface ReceivedInfo {
  /** The name the client gave in HELO/EHLO. */
  from: string;
  remoteIp: string;
  /** Our own host name. */
  hostname: string;
  protocol: ReceivedProtocol;
  id: string;
  /** Only when the transaction has exactly one recipient; otherwise it would leak the others. */
  recipient?: string;
  tls?: { version: string; cipher: string };
  date: Date;
}

/** Picks the `with` keyword from what the session negotiated. */
export function receivedProtocol(session: { esmtp: boolean; tls?: boolean; auth?: boolean; utf8?: boolean }): ReceivedProtocol {
  if (!session.esmtp) return 'SMTP';
  const suffix = (session.tls === true ? 'S' : '') + (session.auth === true ? 'A' : '');
  return `${session.utf8 === true ? 'UTF8SMTP' : 'ESMTP'}${suffix}` as ReceivedProtocol;
}

const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
const ADDRESS_LITERAL = /^\[(?:IPv6:)?[0-9A-Fa-f.:]+\]$/;

/** Header-safe printable text: no controls, no characters that would end a comment early. */
function printable(s: string): string {
  return s.replace(/[\x00-\x20\x7f()\\]/g, '_');
}

/** RFC 5321 address literal; IPv4-mapped IPv6 (as Node reports dual-stack peers) is shown as IPv4. */
function addressLiteral(ip: string): string {
  const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  return isIP(plain) === 6 ? `[IPv6:${plain}]` : `[${printable(plain)}]`;
}

/** The last second formatted: every message of that second carries the same text. */
let lastSecond = NaN;
let lastText = '';

/** `Thu, 21 Nov 2026 21:05:00 +0000`; always UTC, like every other time we write. */
export function rfc5322Date(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== lastSecond) {
    lastText = date.toUTCString().replace(/GMT$/, '+0000');
    lastSecond = second;
  }
  return lastText;
}

/** A folded `Received:` line ending in CRLF, one clause per line. */
export function receivedHeader(info: ReceivedInfo): string {
  const helo = info.from.trim();
  const literal = addressLiteral(info.remoteIp);
  const fromClause =
    DOMAIN.test(helo) || ADDRESS_LITERAL.test(helo)
      ? `from ${helo} (${literal})`
      : `from ${literal} (helo=${printable(helo) || 'none'})`;
  let header = `Received: ${fromClause}\r\n\tby ${printable(info.hostname)} (mtaq) with ${info.protocol} id ${printable(info.id)}`;
  if (info.tls !== undefined) header += `\r\n\t(version=${printable(info.tls.version)} cipher=${printable(info.tls.cipher)})`;
  const recipient = info.recipient?.replace(/[\x00-\x1f\x7f<>]/g, '');
  if (recipient) header += `\r\n\tfor <${recipient}>`;
  return `${header}; ${rfc5322Date(info.date)}\r\n`;
}
