/**
 * Name lookups shared by delivery (MX, A/AAAA, PTR) and the ingress (SPF, DKIM, DMARC): one
 * resolver on `dns-servers`, a cache that keeps answers for their TTL (at least `dns-min-ttl`), and
 * the DnsError that says whether a failure is worth retrying.
 */

export { DnsError } from './errors.js';
export {
  createResolver,
  resolveMailHosts,
  lookupMailHosts,
  resolveAddresses,
  orderByPreference,
  isPermanentDnsCode,
  toDnsError,
  type MailHost,
  type MailHostAnswer,
  type ResolverConfig,
} from './resolver.js';
export { DnsCache, type DnsCacheOptions, type RecordType } from './cache.js';
export { recipientDomain, ipLiteral, normalizeHost } from './domain.js';
