/** Recipient-domain text handling shared by the resolver and delivery's router. */

import { isIp, normalizeIp } from '@mtaq/net';

/**
 * Lower-cased domain of a recipient address, or undefined without one. The last `@` is used
 * because a quoted local part may itself contain `@`; a trailing root dot is dropped so
 * `x.org.` and `x.org` share a destination.
 */
export function recipientDomain(recipient: string): string | undefined {
  const at = recipient.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = recipient.slice(at + 1).trim().toLowerCase().replace(/\.$/, '');
  return domain === '' ? undefined : domain;
}

/**
 * The address inside an RFC 5321 address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`), or undefined
 * when `domain` is a name. Such recipients are delivered straight to that address, without DNS.
 */
export function ipLiteral(domain: string): string | undefined {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(domain.trim());
  const inner = m?.[1];
  if (inner === undefined || !isIp(inner)) return undefined;
  // `[1.2.3.4]` must be IPv4 and `[IPv6:…]` IPv6; a bare `[::1]` is accepted as lenient input.
  if (/^\[ipv6:/i.test(domain.trim()) && !inner.includes(':')) return undefined;
  return normalizeIp(inner);
}

/** Host names as they appear in MX answers, normalised for comparison and grouping. */
export function normalizeHost(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}
