/** Routing for delivery: DNS, destinations, source addresses (§7.1 step 5, §7.2, §7.6, §7.7). */

export { BindError } from './errors.js';
// the resolver lives in @mtaq/dns, shared with the ingress's checks
export { createResolver, DnsError, recipientDomain } from '@mtaq/dns';
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
