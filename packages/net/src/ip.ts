import { isIP, SocketAddress } from 'node:net';

export type IpFamily = 4 | 6;

const MAPPED_DOTTED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/** True when `s` is a literal IPv4 or IPv6 address (no brackets, no port, no surrounding spaces). */
export function isIp(s: string): boolean {
  return isIP(s) !== 0;
}

/**
 * Canonical text of an address, so the same host always compares equal: IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, as sockets on a dual-stack listener report IPv4 peers) becomes plain IPv4 and
 * IPv6 is lower-cased and compressed. Input that is not an address is returned trimmed and
 * otherwise unchanged; use {@link isIp} first when it must be validated.
 */
export function normalizeIp(s: string): string {
  let known = normalized.get(s);
  if (known === undefined) {
    // a busy process asks about the same few addresses for every message; the IPv6 path builds a SocketAddress
    if (normalized.size >= NORMALIZED_MAX) normalized.clear();
    normalized.set(s, (known = normalize(s)));
  }
  return known;
}

const normalized = new Map<string, string>();
const NORMALIZED_MAX = 4096;

function normalize(s: string): string {
  const text = s.trim();
  const family = isIP(text);
  if (family !== 6) return text;
  const dotted = MAPPED_DOTTED.exec(text);
  if (dotted?.[1] !== undefined && isIP(dotted[1]) === 4) return dotted[1];
  const hex = MAPPED_HEX.exec(text);
  if (hex?.[1] !== undefined && hex[2] !== undefined) {
    const hi = parseInt(hex[1], 16);
    const lo = parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  const lower = text.toLowerCase();
  if (lower.includes('%')) return lower; // zone ids are not understood by SocketAddress
  try {
    return new SocketAddress({ address: lower, family: 'ipv6' }).address;
  } catch {
    return lower;
  }
}

/** 4 or 6 for an address (IPv4-mapped IPv6 counts as 4, matching {@link normalizeIp}); 0 otherwise. */
export function ipFamily(s: string): IpFamily | 0 {
  return isIP(normalizeIp(s)) as IpFamily | 0;
}
