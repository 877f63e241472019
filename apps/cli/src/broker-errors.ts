import { maskUrl } from '@mtaq/config';
import { EX_CONFIG, EX_NOINPUT, EX_UNAVAILABLE } from './exit-codes.js';

/** A broker failure as one line for the operator, and the exit status that goes with it. */
export interface BrokerFailure {
  readonly message: string;
  readonly exitCode: number;
}

/** Socket-level failures: the broker is not there (or not reachable from here). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * Recognises what amqplib throws when a broker is down, refuses the login or the virtual host, or
 * lacks the queue; undefined for anything else. amqplib has no error classes, so this goes by the
 * socket error code and by the AMQP reply text (`403 (ACCESS-REFUSED)`, `404 (NOT-FOUND)`).
 */
export function describeBrokerError(err: unknown, url: string, queue: string): BrokerFailure | undefined {
  const code = socketCode(err);
  const text = err instanceof Error ? err.message : String(err);
  const shown = maskUrl(url);
  if (code !== undefined && UNREACHABLE.has(code)) {
    return { message: `cannot reach RabbitMQ at ${shown} (${code})`, exitCode: EX_UNAVAILABLE };
  }
  if (/ACCESS[-_]REFUSED/.test(text)) {
    return {
      message: `RabbitMQ at ${shown} refused the login for user "${part(url, 'user')}" (ACCESS_REFUSED); check rabbitmq-address`,
      exitCode: EX_CONFIG,
    };
  }
  // A missing or forbidden virtual host closes the connection instead of opening it.
  if (/NOT[-_]ALLOWED|Expected ConnectionOpenOk/.test(text)) {
    return {
      message: `RabbitMQ at ${shown} refused to open virtual host "${part(url, 'vhost')}"; check rabbitmq-address`,
      exitCode: EX_CONFIG,
    };
  }
  // Something listens there but does not speak AMQP (an HTTP server, a proxy, the wrong port).
  if (/Frame size \d+ exceeds|Socket closed abruptly during opening handshake|Expected ConnectionStart|Unexpected (frame|close)/.test(text)) {
    return { message: `no AMQP broker answered at ${shown} (${text.split(/\s*\n/)[0]})`, exitCode: EX_UNAVAILABLE };
  }
  if ((err as { code?: unknown }).code === 404 || /NOT[-_]FOUND - no queue/.test(text)) {
    return { message: `queue "${queue}" does not exist`, exitCode: EX_NOINPUT };
  }
  return undefined;
}

/** Node reports a failed connection to a name with several addresses as an AggregateError. */
function socketCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return err.errors.map(socketCode).find((c) => c !== undefined);
  return undefined;
}

/** The user or virtual host of an AMQP URL, with amqplib's defaults when the URL leaves them out. */
function part(url: string, which: 'user' | 'vhost'): string {
  try {
    const parsed = new URL(url);
    if (which === 'user') return decodeURIComponent(parsed.username) || 'guest';
    const vhost = parsed.pathname.slice(1);
    return vhost === '' ? '/' : decodeURIComponent(vhost);
  } catch {
    return which === 'user' ? 'guest' : '/';
  }
}
