/**
 * MX routing over `node:dns/promises` (c-ares), so `dns-servers`, `dns-timeout` and `dns-attempts`
 * apply and /etc/hosts does not: delivery must see what other MTAs see.
 */

import { Resolver } from 'node:dns/promises';
import type { Config } from '@mtaq/config';
import { isIp, normalizeIp } from '@mtaq/net';
import { ipLiteral, normalizeHost } from './domain.js';
import { DnsError } from './errors.js';

export type ResolverConfig = Pick<Config, 'dns-servers' | 'dns-timeout' | 'dns-attempts'>;

export interface MailHost {
  /** MX exchange name (no trailing dot); the domain itself for an implicit MX; the IP for a literal. */
  host: string;
  preference: number;
  /** IPv4 first, then IPv6, so callers holding only IPv4 sources find theirs early. */
  addresses: string[];
}

/** A lookup result plus how long it may be reused. */
export interface MailHostAnswer {
  hosts: MailHost[];
  /** Smallest TTL (seconds) among the address records used; undefined when no record carried one. */
  ttl: number | undefined;
}

export function createResolver(config: ResolverConfig): Resolver {
  const seconds = config['dns-timeout'];
  const resolver = new Resolver({
    // -1 leaves c-ares on its resolv.conf / built-in default, which is what "0 = default" means.
    timeout: seconds > 0 ? Math.max(1, Math.round(seconds * 1000)) : -1,
    tries: config['dns-attempts'],
  });
  if (config['dns-servers'].length > 0) resolver.setServers([...config['dns-servers']]);
  return resolver;
}

/** "The name provably has no such data", as opposed to "we could not find out". */
const PERMANENT_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EBADNAME']);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** True for answers that say the data does not exist (NXDOMAIN / NODATA). */
export function isPermanentDnsCode(code: string | undefined): boolean {
  return code !== undefined && PERMANENT_CODES.has(code);
}

/** A resolver failure as a DnsError; unknown codes count as transient so mail is never lost to a glitch. */
export function toDnsError(error: unknown, domain: string, what: string): DnsError {
  if (error instanceof DnsError) return error;
  const code = codeOf(error);
  const transient = !isPermanentDnsCode(code);
  const reason = code === 'ENOTFOUND' ? 'does not exist' : code === 'ENODATA' ? 'has no records' : `lookup failed (${code ?? String(error)})`;
  return new DnsError(`${what} ${domain} ${reason}`, { domain, transient, code, cause: error });
}

interface Addresses {
  addresses: string[];
  ttl: number | undefined;
  /** Set when neither family answered and at least one failure was not a plain "no data". */
  transientError?: unknown;
  /** Set when both families answered "no such name / no data". */
  permanentError?: unknown;
}

/** A and AAAA of one name; a family that has no data is simply absent. */
export async function resolveAddresses(resolver: Resolver, name: string): Promise<Addresses> {
  if (isIp(name)) return { addresses: [normalizeIp(name)], ttl: undefined };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]);
  const addresses: string[] = [];
  let ttl: number | undefined;
  const failures: unknown[] = [];
  for (const family of [v4, v6]) {
    if (family.status === 'rejected') {
      failures.push(family.reason);
      continue;
    }
    for (const record of family.value) {
      addresses.push(normalizeIp(record.address));
      ttl = ttl === undefined ? record.ttl : Math.min(ttl, record.ttl);
    }
  }
  if (addresses.length > 0) return { addresses, ttl };
  const transientError = failures.find((f) => !isPermanentDnsCode(codeOf(f)));
  if (transientError !== undefined) return { addresses, ttl, transientError };
  // NXDOMAIN wins over NODATA in the message: it is the more useful thing to tell a sender.
  const permanentError = failures.find((f) => codeOf(f) === 'ENOTFOUND') ?? failures[0];
  return { addresses, ttl, permanentError };
}

/**
 * MX hosts for `domain` in preference order (hosts of equal preference shuffled on every call, to
 * spread load as RFC 5321 §5.1 asks), each with its addresses. Hosts without addresses are dropped;
 * no MX at all means the domain itself is the host (implicit MX).
 * @throws DnsError — `transient` for server trouble, permanent for NXDOMAIN, no MX and no A/AAAA,
 *   a null MX (RFC 7505), or MX hosts none of which has an address.
 */
export async function resolveMailHosts(resolver: Resolver, domain: string): Promise<MailHost[]> {
  return orderByPreference((await lookupMailHosts(resolver, domain)).hosts);
}

/** {@link resolveMailHosts} without the shuffle, plus the TTL a cache may honour. */
export async function lookupMailHosts(resolver: Resolver, domain: string): Promise<MailHostAnswer> {
  const literal = ipLiteral(domain);
  if (literal !== undefined) return { hosts: [{ host: literal, preference: 0, addresses: [literal] }], ttl: undefined };

  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(domain);
  } catch (error) {
    if (codeOf(error) !== 'ENODATA') throw toDnsError(error, domain, 'domain');
    records = [];
  }
  if (records.length === 0) return implicitMx(resolver, domain);

  // RFC 7505: a lone `0 .` says "this domain accepts no mail"; mixed with real MXes it is noise.
  const real = records.filter((r) => normalizeHost(r.exchange) !== '');
  if (real.length === 0) {
    throw new DnsError(`domain ${domain} accepts no mail (null MX)`, { domain, transient: false, responseCode: 556, status: '5.1.10' });
  }

  const byHost = new Map<string, number>();
  for (const r of real) {
    const host = normalizeHost(r.exchange);
    const seen = byHost.get(host);
    if (seen === undefined || r.priority < seen) byHost.set(host, r.priority);
  }
  const entries = [...byHost].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
  const answers = await Promise.all(entries.map(([host]) => resolveAddresses(resolver, host)));

  const hosts: MailHost[] = [];
  let ttl: number | undefined;
  let transient: unknown;
  entries.forEach(([host, preference], i) => {
    const answer = answers[i];
    if (answer === undefined) return;
    if (answer.addresses.length > 0) hosts.push({ host, preference, addresses: answer.addresses });
    if (answer.ttl !== undefined) ttl = ttl === undefined ? answer.ttl : Math.min(ttl, answer.ttl);
    transient ??= answer.transientError;
  });
  if (hosts.length > 0) return { hosts, ttl };
  const names = entries.map(([h]) => h).join(', ');
  if (transient !== undefined) {
    const code = codeOf(transient);
    throw new DnsError(`no MX host of ${domain} could be resolved (${code ?? String(transient)}): ${names}`, {
      domain,
      transient: true,
      code,
      cause: transient,
    });
  }
  throw new DnsError(`no MX host of ${domain} has an address: ${names}`, { domain, transient: false });
}

async function implicitMx(resolver: Resolver, domain: string): Promise<MailHostAnswer> {
  const answer = await resolveAddresses(resolver, domain);
  if (answer.addresses.length > 0) return { hosts: [{ host: domain, preference: 0, addresses: answer.addresses }], ttl: answer.ttl };
  if (answer.transientError !== undefined) throw toDnsError(answer.transientError, domain, 'domain');
  const code = codeOf(answer.permanentError);
  throw new DnsError(code === 'ENOTFOUND' ? `domain ${domain} does not exist` : `domain ${domain} has no MX and no A/AAAA records`, {
    domain,
    transient: false,
    code,
    cause: answer.permanentError,
  });
}

/** Stable by preference, random within a preference. */
export function orderByPreference(hosts: readonly MailHost[], random: () => number = Math.random): MailHost[] {
  const keyed = hosts.map((host) => ({ host, tie: random() }));
  keyed.sort((a, b) => a.host.preference - b.host.preference || a.tie - b.tie);
  return keyed.map((k) => k.host);
}
