import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '@mtaq/config';
import { processConnections } from '@mtaq/limits';
import type { CidrList, ProxyProtocolError } from '@mtaq/net';
import type { SMTPServerOptions } from 'smtp-server';

export interface MtaqServerOptions extends SMTPServerOptions {
  /**
   * Milliseconds to hold the 220 greeting for this client. smtp-server hard-codes 100 ms of
   * early-talker detection, which caps a short-lived session at ~10 messages/s; we make it policy.
   */
  greetingDelay(remoteAddress: string): number;
  /**
   * `smtp-proxy`: peers whose connections must start with a PROXY v1 or v2 header. The client
   * address in it is the session's from then on (onConnect checks, Received, JSON `connection`).
   * Other peers are never parsed for one: a `PROXY` line from them is just an unknown command.
   */
  proxy?: CidrList;
  /** Milliseconds a listed peer may take to deliver its header; default `socketTimeout`. */
  proxyTimeout?: number;
  /** Told about every header that could not be read; the socket is already destroyed. */
  onProxyError?(err: ProxyProtocolError, peer: string): void;
  /**
   * `smtp-max-errors`: error replies (4xx/5xx to commands or messages) a session may collect
   * without delivering mail before it is closed with `421 4.7.0`. Default 10.
   */
  maxErrors?: number;
  /** `smtp-require-tls`: nothing but EHLO/HELO/STARTTLS/NOOP/RSET/QUIT before TLS (530 5.7.0). */
  requireTls?: boolean;
  /** `smtp-connections`: sockets of this process, in and out together (0 = no cap). */
  maxConnections?: number;
  /** `smtp-connections-wait` in ms: how long a connection over a cap is held before 421. */
  connectionsWaitMs?: number;
  /** `smtp-min-rate` / `-grace`: the slowest a command line or message may arrive once past the grace. */
  minRate?: { bytesPerSecond: number; graceMs: number };
  /** True when one more connection would leave too few file descriptors for the process itself. */
  nearDescriptorLimit?(): boolean;
}

/** Descriptors kept free for the process itself (Redis, RabbitMQ, upstream connections, files). */
const DESCRIPTOR_RESERVE = 64;

let descriptorLimit: number | undefined;

/**
 * Whether the connections open now come within {@link DESCRIPTOR_RESERVE} of the soft limit on open
 * files (`ulimit -n`, systemd LimitNOFILE): past it, a new client gets 421 rather than a reset from
 * a failed accept, and the process keeps descriptors for its own work.
 */
function nearDescriptorLimit(): boolean {
  descriptorLimit ??= readDescriptorLimit();
  return processConnections.accepted + processConnections.outbound + DESCRIPTOR_RESERVE >= descriptorLimit;
}

function readDescriptorLimit(): number {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
    return line === undefined || line === 'unlimited' ? Infinity : Number(line);
  } catch {
    return Infinity;
  }
}

export interface TlsFiles {
  key?: Buffer;
  cert?: Buffer;
  ciphers?: string;
  secureOptions?: number;
}

/**
 * `smtp-certificate` / `smtp-key` / `smtp-ciphers`, read once for every listener (none without both
 * files). Client-initiated renegotiation (TLS 1.2 and older; 1.3 has none) is refused: each one
 * costs the server a full handshake, and Node would otherwise allow 3 per connection.
 */
export function tlsOptions(config: Config): TlsFiles {
  if (!config['smtp-certificate'] || !config['smtp-key']) return {};
  return {
    // smtp-server hands these to tls.createSecureContext for STARTTLS and the implicit-TLS port alike
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    cert: readFileSync(config['smtp-certificate']),
    key: readFileSync(config['smtp-key']),
    ...(config['smtp-ciphers'] ? { ciphers: config['smtp-ciphers'] } : {}),
  };
}

/**
 * The config as smtp-server options for one listener, everything but the hooks. `auth` is what
 * the AUTH backends offer: no backend, no AUTH (the command is not even advertised).
 */
export function serverOptions(
  config: Config,
  listener: { secure: boolean; tls: TlsFiles; auth: { configured: boolean; mechanisms: string[] } },
): MtaqServerOptions {
  const { secure, tls, auth } = listener;
  const delayMs = config['smtp-greeting-delay'] * 1000;
  const exempt = config['smtp-greeting-delay-exempt'];
  return {
    ...tls,
    secure,
    name: config['smtp-hostname'],
    size: config['smtp-maxsize'],
    rejectOversized: true,
    socketTimeout: config['smtp-timeout'] * 1000,
    maxRecipients: config['smtp-max-recipients'],
    // smtp-max-errors: 4xx/5xx replies without delivering mail before 421 4.7.0 (connection.ts)
    maxErrors: config['smtp-max-errors'],
    requireTls: config['smtp-require-tls'],
    // smtp-proxy: listed peers start with a PROXY v1/v2 header; its client address is the session's
    proxy: config['smtp-proxy'],
    // smtp-server's own check answers 501; we validate per smtp-validate-address and answer 553
    lenientAddressParsing: true,
    hideSTARTTLS: !tls.cert,
    hideDSN: !config['dsn-advertise'],
    hideENHANCEDSTATUSCODES: false,
    // no backend, no AUTH: the command is not even advertised
    ...(auth.configured ? {} : { disabledCommands: ['AUTH'] }),
    authMethods: auth.mechanisms,
    allowInsecureAuth: config['smtp-auth-insecure'],
    authOptional: true,
    ...(config['smtp-connections-in'] > 0 ? { maxClients: config['smtp-connections-in'] } : {}),
    maxConnections: config['smtp-connections'],
    connectionsWaitMs: config['smtp-connections-wait'] * 1000,
    minRate: { bytesPerSecond: config['smtp-min-rate'], graceMs: config['smtp-min-rate-grace'] * 1000 },
    nearDescriptorLimit,
    disableReverseLookup: true,
    logger: false,
    greetingDelay: (ip) => (delayMs > 0 && !exempt.contains(ip) ? delayMs : 0),
  };
}
