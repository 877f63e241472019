/** Source address and EHLO name for an outgoing connection (§7.7). */

import type { Resolver } from 'node:dns/promises';
import { hostname as osHostname } from 'node:os';
import type { Config } from '@mtaq/config';
import type { OutgoingMessage } from '@mtaq/envelope';
import { ipFamily, isIp, normalizeIp, type IpFamily } from '@mtaq/net';
import { createResolver } from '@mtaq/dns';
import { BindError } from './errors.js';
import { canBind, localAddresses, type InterfaceTable } from './local-address.js';

export type SourceIpConfig = Pick<
  Config,
  'ip-pools' | 'ehlo-names' | 'smtp-default-ips' | 'smtp-hostname' | 'dns-servers' | 'dns-timeout' | 'dns-attempts'
>;

export interface SourceIpOptions {
  /** Longest wait for a PTR answer before falling back to `smtp-hostname`. Default 3000 ms. */
  ptrTimeoutMs?: number;
  /** How long an EHLO name (PTR result or fallback) is reused. Default one hour. */
  ehloTtlMs?: number;
  /** Replaces `os.networkInterfaces()`, for the "all local addresses" fallback. */
  interfaces?: () => InterfaceTable;
  /** Pools from the rule database (`pools`/`poolips`), merged with `ip-pools` at every lookup. */
  tablePools?: () => ReadonlyMap<string, readonly string[]>;
  now?: () => number;
}

/** How long the list of this host's addresses (the last-resort source candidates) is reused. */
const LOCAL_ADDRESSES_TTL_MS = 1000;

/** A plausible host name: LDH labels, at least two of them, as EHLO needs (RFC 5321 §4.1.1.1). */
const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export class SourceIps {
  readonly #config: SourceIpConfig;
  readonly #resolver: Resolver;
  readonly #ptrTimeoutMs: number;
  readonly #ehloTtlMs: number;
  readonly #interfaces: (() => InterfaceTable) | undefined;
  readonly #now: () => number;
  readonly #pools: ReadonlyMap<string, readonly string[]>;
  readonly #tablePools: (() => ReadonlyMap<string, readonly string[]>) | undefined;
  readonly #ehloNames: ReadonlyMap<string, string>;
  readonly #local = new Map<string, Promise<boolean>>();
  readonly #ehlo = new Map<string, { name: Promise<string>; expires: number }>();
  #turn = 0;
  #localAddresses: { readonly at: number; readonly list: readonly string[] } | undefined;

  constructor(config: SourceIpConfig, resolver?: Resolver, options: SourceIpOptions = {}) {
    this.#config = config;
    this.#resolver = resolver ?? createResolver(config);
    this.#ptrTimeoutMs = options.ptrTimeoutMs ?? 3000;
    this.#ehloTtlMs = options.ehloTtlMs ?? 3_600_000;
    this.#interfaces = options.interfaces;
    this.#now = options.now ?? Date.now;
    this.#pools = config['ip-pools'];
    this.#tablePools = options.tablePools;
    // Keys are free text in the config; normalising lets `::FFFF:10.0.0.5` find `10.0.0.5`.
    this.#ehloNames = new Map([...config['ehlo-names']].map(([ip, name]) => [isIp(ip) ? normalizeIp(ip) : ip, name]));
  }

  /**
   * Permitted source addresses in §7.7 priority order, before the local-binding check: `ips` (only
   * when an array) → `pool` → `smtp-default-ips` → all local addresses.
   * @throws BindError for an empty or address-free `ips`, an unknown pool, or an empty pool.
   */
  candidates(message: Pick<OutgoingMessage, 'ips' | 'pool'>): string[] {
    const ips: unknown = message.ips;
    if (Array.isArray(ips)) {
      const list = unique(ips.filter((ip): ip is string => typeof ip === 'string' && isIp(ip.trim())));
      if (list.length === 0) throw new BindError(ips.length === 0 ? 'message allows no source IP ("ips" is empty)' : 'message "ips" holds no IP address', ips.map(String));
      return list;
    }
    if (typeof message.pool === 'string' && message.pool !== '') {
      // a pool may be in the config, in the rule database, or both: its members are the union
      const configured = this.#pools.get(message.pool);
      const tabled = this.#tablePools?.().get(message.pool);
      if (configured === undefined && tabled === undefined) throw new BindError(`unknown IP pool "${message.pool}"`);
      const members = [...(configured ?? []), ...(tabled ?? [])];
      if (members.length === 0) throw new BindError(`IP pool "${message.pool}" has no members`);
      return unique(members);
    }
    const defaults = this.#config['smtp-default-ips'];
    if (defaults.length > 0) return unique(defaults);
    if (this.#interfaces) return localAddresses(this.#interfaces());
    // os.networkInterfaces() is a system call and a fresh table each time: asked once a second at most
    const now = this.#now();
    if (this.#localAddresses === undefined || now - this.#localAddresses.at >= LOCAL_ADDRESSES_TTL_MS) {
      this.#localAddresses = { at: now, list: localAddresses() };
    }
    return [...this.#localAddresses.list];
  }

  /**
   * {@link candidates} that can actually be bound here, order kept.
   * @throws BindError when none can (C46: fatal `bind/error`, no connection).
   */
  async usable(message: Pick<OutgoingMessage, 'ips' | 'pool'>): Promise<string[]> {
    const candidates = this.candidates(message);
    const local = await Promise.all(candidates.map((ip) => this.isLocal(ip)));
    const usable = candidates.filter((_, i) => local[i]);
    if (usable.length === 0) throw new BindError(`no source IP is local to this host: ${candidates.join(', ')}`, candidates);
    return usable;
  }

  /** Whether `ip` can be bound on this host; the kernel is asked once per address. */
  isLocal(ip: string): Promise<boolean> {
    const key = isIp(ip.trim()) ? normalizeIp(ip) : ip;
    let known = this.#local.get(key);
    if (known === undefined) {
      known = canBind(key);
      this.#local.set(key, known);
    }
    return known;
  }

  /**
   * One of `candidates`, rotating so consecutive connections spread over them; with `family`, only
   * addresses of that family qualify (an IPv4 source cannot reach an IPv6 MX address).
   */
  pick(candidates: readonly string[], family?: IpFamily): string | undefined {
    const fit = family === undefined ? candidates : candidates.filter((ip) => ipFamily(ip) === family);
    if (fit.length === 0) return undefined;
    return fit[this.#turn++ % fit.length];
  }

  /** `ehlo-names` entry for the IP, else its PTR name, else `smtp-hostname` (else the OS host name). */
  ehloName(ip: string): Promise<string> {
    const key = isIp(ip.trim()) ? normalizeIp(ip) : ip;
    const configured = this.#ehloNames.get(key);
    if (configured !== undefined) return Promise.resolve(configured);
    const cached = this.#ehlo.get(key);
    if (cached !== undefined && cached.expires > this.#now()) return cached.name;
    const name = this.#ptrName(key).then((ptr) => ptr ?? this.#fallbackName());
    this.#ehlo.set(key, { name, expires: this.#now() + this.#ehloTtlMs });
    return name;
  }

  #fallbackName(): string {
    return this.#config['smtp-hostname'] || osHostname();
  }

  /** First PTR name that is a usable EHLO argument; undefined on any failure, as EHLO must not wait long. */
  async #ptrName(ip: string): Promise<string | undefined> {
    if (!isIp(ip)) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, this.#ptrTimeoutMs, undefined);
      timer.unref();
    });
    const lookup = this.#resolver.reverse(ip).then(
      (names) => names.map((n) => n.replace(/\.$/, '')).find((n) => HOST_NAME.test(n)),
      () => undefined,
    );
    try {
      return await Promise.race([lookup, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function unique(ips: readonly string[]): string[] {
  return [...new Set(ips.map((ip) => normalizeIp(ip)))];
}
