/** Routing for delivery: DNS, destinations, source addresses (§7.1 step 5, §7.2, §7.6, §7.7). */

export { BindError, DnsError } from './errors.js';
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
} from './dns.js';
export { DnsCache, type DnsCacheOptions } from './dns-cache.js';
export { recipientDomain, ipLiteral, normalizeHost } from './domain.js';
export {
  Router,
  SMARTHOST_DESTINATION,
  type Route,
  type FolderRoute,
  type SmtpRoute,
  type RouteHost,
  type RouterConfig,
  type RouterOptions,
} from './route.js';
export { SourceIps, type SourceIpConfig, type SourceIpOptions } from './source-ip.js';
export { canBind, localAddresses, type InterfaceTable } from './local-address.js';
