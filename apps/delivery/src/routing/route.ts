/**
 * Where a message goes (§7.1 step 5, §7.6): the delivery folder, a smarthost, the debugging sink, or
 * the MX hosts of the recipient domain.
 */

import { lookup } from 'node:dns/promises';
import type { Resolver } from 'node:dns/promises';
import type { Config } from '@mtaq/config';
import type { OutgoingMessage } from '@mtaq/envelope';
import { isIp, normalizeIp } from '@mtaq/net';
import { DnsCache, DnsError, ipLiteral, normalizeHost, recipientDomain } from '@mtaq/dns';

export type RouterConfig = Pick<
  Config,
  | 'delivery-method'
  | 'delivery-folder'
  | 'smarthost'
  | 'smarthost-port'
  | 'smarthost-username'
  | 'smarthost-password'
  | 'smtp-sink-address'
  | 'smtp-sink-port'
  | 'smtp-sink-username'
  | 'smtp-sink-password'
  | 'dns-servers'
  | 'dns-min-ttl'
>;

export interface RouteHost {
  /** Name to greet and to verify a certificate against: MX exchange, smarthost or sink name, or an IP. */
  host: string;
  port: number;
  addresses: string[];
}

export interface FolderRoute {
  kind: 'folder';
  folder: string;
}

export interface SmtpRoute {
  kind: 'smtp';
  /** Recipient domain, always: what pauses, forced errors and suppressions match. */
  domain: string;
  /**
   * Queue / throttle / connection-reuse key: {@link SMARTHOST_DESTINATION} for any smarthost, the
   * recipient domain with the sink or an implicit MX or an address literal, else the MX host names
   * sorted and joined by `,` (so domains hosted together share connections and limits).
   */
  destination: string;
  /** In the order to try them. */
  hosts: RouteHost[];
  auth?: { user: string; pass: string };
  via: 'mx' | 'smarthost' | 'sink';
}

export type Route = FolderRoute | SmtpRoute;

/** §7.6: the single pseudo-domain all smarthost mail is queued under. */
export const SMARTHOST_DESTINATION = '(smarthost)';

const SMTP_PORT = 25;

interface Relay {
  hostname: string;
  port: number;
  auth?: { user: string; pass: string };
}

export interface RouterOptions {
  /** Shared answer cache; one per resolver is made when absent. */
  cache?: DnsCache;
}

export class Router {
  readonly #config: RouterConfig;
  readonly #dns: DnsCache;
  readonly #configRelay: Relay | undefined;
  readonly #sinkRelay: Relay | undefined;
  /** §2.4: the sink is resolved once; a failed attempt is forgotten so the next message retries it. */
  #sinkHost: Promise<RouteHost> | undefined;

  constructor(config: RouterConfig, resolver: Resolver, options: RouterOptions = {}) {
    this.#config = config;
    this.#dns = options.cache ?? new DnsCache(resolver, { minTtl: config['dns-min-ttl'] });
    this.#configRelay = relay(config.smarthost, config['smarthost-port'], config['smarthost-username'], config['smarthost-password']);
    this.#sinkRelay = relay(
      config['smtp-sink-address'],
      config['smtp-sink-port'],
      config['smtp-sink-username'],
      config['smtp-sink-password'],
    );
  }

  /** @throws DnsError (§7.2: `transient` → retry, else fatal `dns/error`). */
  async route(message: OutgoingMessage): Promise<Route> {
    const method = this.#config['delivery-method'];
    const smarthost = messageRelay(message) ?? this.#configRelay;
    if (method === 'folder' || (method === 'auto' && smarthost === undefined && this.#sinkRelay === undefined)) {
      return { kind: 'folder', folder: this.#config['delivery-folder'] };
    }

    const domain = recipientDomain(message.recipient);
    if (domain === undefined) {
      throw new DnsError(`recipient ${JSON.stringify(message.recipient)} has no domain`, {
        domain: '',
        transient: false,
        status: '5.1.3',
        responseCode: 553,
      });
    }

    if (this.#sinkRelay !== undefined) {
      // Both set: the smarthost decides the queue, the sink still receives every connection (§7.6).
      const sink = this.#sinkRelay;
      return withAuth(
        {
          kind: 'smtp',
          domain,
          destination: smarthost === undefined ? domain : SMARTHOST_DESTINATION,
          hosts: [copy(await this.#sink(sink))],
          via: 'sink',
        },
        sink.auth,
      );
    }

    if (smarthost !== undefined) {
      const addresses = await this.#relayAddresses(smarthost.hostname);
      return withAuth(
        {
          kind: 'smtp',
          domain,
          destination: SMARTHOST_DESTINATION,
          hosts: [{ host: smarthost.hostname, port: smarthost.port, addresses: [...addresses] }],
          via: 'smarthost',
        },
        smarthost.auth,
      );
    }

    const mailHosts = await this.#dns.mailHosts(domain);
    return {
      kind: 'smtp',
      domain,
      // An implicit MX yields the domain itself here; a literal keeps its brackets so it reads as one.
      destination: ipLiteral(domain) !== undefined ? domain : [...new Set(mailHosts.map((h) => h.host))].sort().join(','),
      hosts: mailHosts.map((h) => ({ host: h.host, port: SMTP_PORT, addresses: [...h.addresses] })),
      via: 'mx',
    };
  }

  #sink(sink: Relay): Promise<RouteHost> {
    if (this.#sinkHost === undefined) {
      const pending = this.#relayAddresses(sink.hostname).then((addresses) => ({ host: sink.hostname, port: sink.port, addresses }));
      this.#sinkHost = pending;
      pending.catch(() => {
        if (this.#sinkHost === pending) this.#sinkHost = undefined;
      });
    }
    return this.#sinkHost;
  }

  /**
   * Addresses of a smarthost or sink. These names are the operator's own, so `localhost` and, when no
   * `dns-servers` override the system, /etc/hosts count too. Failures are always transient: the
   * recipient is not at fault, and a fixed relay name should let queued mail through.
   */
  async #relayAddresses(hostname: string): Promise<string[]> {
    if (isIp(hostname)) return [normalizeIp(hostname)];
    const name = normalizeHost(hostname);
    // RFC 6761: localhost never needs (nor should wait for) a name server.
    if (name === 'localhost' || name.endsWith('.localhost')) return systemAddresses(name, undefined);
    try {
      return await this.#dns.addresses(name);
    } catch (error) {
      if (this.#config['dns-servers'].length === 0) return systemAddresses(name, error);
      throw relayError(name, error);
    }
  }
}

/** getaddrinfo (/etc/hosts, nsswitch); on failure reports `earlier` when given, as c-ares says more. */
async function systemAddresses(name: string, earlier: unknown): Promise<string[]> {
  try {
    const found = await lookup(name, { all: true });
    if (found.length > 0) return found.map((a) => normalizeIp(a.address));
    throw Object.assign(new Error(`${name} has no addresses`), { code: 'ENODATA' });
  } catch (error) {
    throw relayError(name, earlier ?? error);
  }
}

function relayError(name: string, error: unknown): DnsError {
  const reason = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return new DnsError(`relay ${name}: ${reason}`, {
    domain: name,
    transient: true,
    code: typeof code === 'string' ? code : undefined,
    cause: error,
  });
}

/** Cached answers are shared; a caller reordering or pruning its route must not touch them. */
function copy(host: RouteHost): RouteHost {
  return { ...host, addresses: [...host.addresses] };
}

function withAuth(route: SmtpRoute, auth: Relay['auth']): SmtpRoute {
  return auth === undefined ? route : { ...route, auth };
}

function relay(hostname: string, port: number, username: string, password: string): Relay | undefined {
  const name = hostname.trim();
  if (name === '') return undefined;
  return username === '' ? { hostname: name, port } : { hostname: name, port, auth: { user: username, pass: password } };
}

/** The JSON `smarthost` (§4, wins over config); parseOutgoing made its port a number, but callers that skip it may pass a string. */
function messageRelay(message: OutgoingMessage): Relay | undefined {
  const value: unknown = message.smarthost;
  if (typeof value !== 'object' || value === null) return undefined;
  const { hostname, port, username, password } = value as Record<string, unknown>;
  if (typeof hostname !== 'string' || hostname.trim() === '') return undefined;
  const number = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  const validPort = typeof number === 'number' && Number.isInteger(number) && number >= 1 && number <= 65535 ? number : SMTP_PORT;
  return relay(hostname, validPort, typeof username === 'string' ? username : '', typeof password === 'string' ? password : '');
}
