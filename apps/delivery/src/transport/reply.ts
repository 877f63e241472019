import type { ResultKind, ResultState } from '@mtaq/envelope';
import type { UpstreamError } from './upstream-connection.js';

export interface ParsedReply {
  code?: number;
  status?: string;
  description: string;
}

const REPLY_CODE = /^(\d{3})[ -]?/;
const ENHANCED_STATUS = /^([245]\.\d{1,3}\.\d{1,3})\s*/;

/** `451-4.7.1 try\r\n451 4.7.1 later` → {451, '4.7.1', 'try later'}; text without a code stays description. */
export function parseReply(response: string | undefined): ParsedReply {
  if (!response) return { description: '' };
  // most replies are one line: no split for them
  const lines = response.includes('\n') ? response.split(/\r?\n/).filter(Boolean) : [response];
  const first = REPLY_CODE.exec(lines[0] ?? '');
  if (!first) return { description: lines.join(' ').trim() };
  let status: string | undefined;
  const text = lines.map((line) => {
    const code = REPLY_CODE.exec(line);
    let rest = code ? line.slice(code[0].length) : line;
    const enhanced = ENHANCED_STATUS.exec(rest);
    if (enhanced) {
      status ??= enhanced[1];
      rest = rest.slice(enhanced[0].length);
    }
    return rest;
  });
  return { code: Number(first[1]), ...(status ? { status } : {}), description: text.join(' ').trim() };
}

/** The host name a server announces in its 220 greeting (reference §6: `mta`). */
export function greetingName(greeting: string): string | undefined {
  return /^220[ -](\S+)/.exec(greeting)?.[1];
}

const STATE_OF_COMMAND: Record<string, ResultState> = {
  EHLO: 'ehlo',
  HELO: 'helo',
  LHLO: 'ehlo',
  STARTTLS: 'starttls',
  'AUTH PLAIN': 'authplain',
  'AUTH LOGIN': 'authlogin',
  'AUTH CRAM-MD5': 'authcram',
  'MAIL FROM': 'mailfrom',
  'RCPT TO': 'rcptto',
};

/**
 * Where a nodemailer failure happened, in the reference's state vocabulary. nodemailer names the
 * command; DATA covers both the DATA command and the reply after the dot, told apart by its code.
 */
export function stateOfError(err: UpstreamError, greeted: boolean): ResultState {
  const command = err.command ?? '';
  if (command === 'DATA') return err.code === 'EMESSAGE' ? 'message' : 'data';
  if (command === 'CONN') {
    if (err.code === 'ETLS') return 'starttls';
    return greeted ? 'intro' : 'connect';
  }
  return STATE_OF_COMMAND[command] ?? 'unknown';
}

/** timeout / lost (dropped) / invalid (unparseable) / error (a valid negative reply or a refusal). */
export function kindOfError(err: UpstreamError): ResultKind {
  if (err.responseCode) return 'error';
  if (err.code === 'ETIMEDOUT' || /timeout/i.test(err.message)) return 'timeout';
  if (err.code === 'EPROTOCOL') return 'invalid';
  if (err.code === 'ECONNECTION' && /closed|unexpectedly/i.test(err.message)) return 'lost';
  return 'error';
}
