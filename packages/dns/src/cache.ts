/**
 * Reuse of DNS answers for max(TTL, `dns-min-ttl`) (§2.4), so a burst of mail for one domain costs
 * one lookup. Concurrent callers share the lookup in flight. Permanent failures are remembered for
 * `dns-min-ttl` (negative caching); transient ones are not, so the next attempt asks again.
 */

import type { Resolver } from 'node:dns/promises';
import { isPermanentDnsCode, lookupMailHosts, orderByPreference, resolveAddresses, toDnsError, type MailHost } from './resolver.js';
import { DnsError } from './errors.js';

interface Entry<T> {
  value: Promise<T>;
  /** Epoch ms; Infinity while the lookup is in flight. */
  expires: number;
}

/** The record types the mail-authentication checks ask for. */
export type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME';

type RecordAnswer = { records: unknown[] } | { error: unknown };

/** Bounds memory when mail goes to very many distinct domains. */
const MAX_ENTRIES = 10_000;

export interface DnsCacheOptions {
  /** Seconds; answers with a shorter (or no) TTL are kept this long. */
  minTtl: number;
  now?: () => number;
}

export class DnsCache {
  readonly #resolver: Resolver;
  readonly #minTtl: number;
  readonly #now: () => number;
  readonly #mx = new Map<string, Entry<MailHost[]>>();
  readonly #addresses = new Map<string, Entry<string[]>>();
  readonly #records = new Map<string, Entry<RecordAnswer>>();

  constructor(resolver: Resolver, options: DnsCacheOptions) {
    this.#resolver = resolver;
    this.#minTtl = options.minTtl;
    this.#now = options.now ?? Date.now;
  }

  /** As {@link resolveMailHosts}: fresh shuffle of equal preferences on every call. */
  async mailHosts(domain: string): Promise<MailHost[]> {
    const hosts = await this.#cached(this.#mx, domain, async () => {
      const answer = await lookupMailHosts(this.#resolver, domain);
      return { value: answer.hosts, ttl: answer.ttl };
    });
    return orderByPreference(hosts);
  }

  /** A and AAAA of a host name (smarthost, sink). @throws DnsError when there is none. */
  async addresses(name: string): Promise<string[]> {
    return this.#cached(this.#addresses, name, async () => {
      const answer = await resolveAddresses(this.#resolver, name);
      if (answer.addresses.length === 0) throw toDnsError(answer.transientError ?? answer.permanentError, name, 'host');
      return { value: answer.addresses, ttl: answer.ttl };
    });
  }

  /**
   * Records of any type, in `dns.resolve(name, type)`'s shape, for the ingress's SPF, DKIM, DMARC
   * and ARC checks. A failure rejects with the resolver's own error (its `code` tells NXDOMAIN,
   * NODATA and timeouts apart, which those checks need). A and AAAA are kept for their TTL; node's
   * resolver reports none for other types, so those are kept for `dns-min-ttl`, as are "no such
   * name / no data" answers.
   */
  async records(name: string, type: RecordType): Promise<unknown[]> {
    const key = `${type} ${name.toLowerCase()}`;
    const answer = await this.#cached(this.#records, key, async () => {
      try {
        if (type === 'A' || type === 'AAAA') {
          const found = type === 'A' ? await this.#resolver.resolve4(name, { ttl: true }) : await this.#resolver.resolve6(name, { ttl: true });
          const ttl = found.length ? Math.min(...found.map((r) => r.ttl)) : undefined;
          return { value: { records: found.map((r) => r.address) }, ttl };
        }
        return { value: { records: (await this.#resolver.resolve(name, type)) as unknown[] }, ttl: undefined };
      } catch (error) {
        // a proven absence is an answer worth keeping; anything else is asked again next time
        if (isPermanentDnsCode((error as { code?: string }).code)) return { value: { error }, ttl: undefined };
        throw error;
      }
    });
    if ('error' in answer) throw answer.error;
    return answer.records;
  }

  #cached<T>(map: Map<string, Entry<T>>, key: string, load: () => Promise<{ value: T; ttl: number | undefined }>): Promise<T> {
    const hit = map.get(key);
    if (hit !== undefined && hit.expires > this.#now()) return hit.value;
    if (map.size >= MAX_ENTRIES) this.#prune(map);
    const entry = { expires: Infinity } as Entry<T>;
    entry.value = load().then(
      ({ value, ttl }) => {
        entry.expires = this.#now() + Math.max(ttl ?? 0, this.#minTtl) * 1000;
        return value;
      },
      (error: unknown) => {
        if (error instanceof DnsError && !error.transient) entry.expires = this.#now() + this.#minTtl * 1000;
        else if (map.get(key) === entry) map.delete(key);
        throw error;
      },
    );
    map.set(key, entry);
    return entry.value;
  }

  /** Expired entries first; if that is not enough, the oldest (Maps iterate in insertion order). */
  #prune<T>(map: Map<string, Entry<T>>): void {
    const now = this.#now();
    for (const [key, entry] of map) if (entry.expires <= now) map.delete(key);
    for (const key of map.keys()) {
      if (map.size < MAX_ENTRIES * 0.9) break;
      map.delete(key);
    }
  }
}
