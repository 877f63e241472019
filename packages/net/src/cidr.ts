import { BlockList, isIP } from 'node:net';
import { normalizeIp } from './ip.js';

const MAPPED_PREFIX_BITS = 96;
/** Addresses whose answer a list keeps (see CidrList.contains). */
const CACHE_SIZE = 4096;

/**
 * An immutable set of IPv4/IPv6 networks as written in config lists such as `smtp-range`
 * (`192.168.0.0/16;10.0.0.0/8;::1`). A bare address means a single host (/32 or /128).
 */
export class CidrList {
  readonly #blocks = new BlockList();
  readonly #entries: readonly string[];
  /**
   * Answers already given, by the address as asked: the list never changes, and the same few client
   * addresses are asked about several times per message (connect, RCPT TO, the message's trust);
   * each BlockList check builds a SocketAddress. Bounded: emptied when it reaches CACHE_SIZE.
   */
  readonly #answers = new Map<string, boolean>();

  private constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address, bits] = splitEntry(entry);
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      this.#blocks.addSubnet(address, bits, family);
    }
    this.#entries = Object.freeze([...entries]);
    Object.freeze(this);
  }

  static readonly empty: CidrList = new CidrList([]);

  /**
   * Parses items separated by `;` or `,` (whitespace and empty items ignored).
   * @throws Error naming the first item that is not an address or CIDR range.
   */
  static parse(text: string): CidrList {
    const entries: string[] = [];
    for (const raw of text.split(/[;,]/)) {
      const item = raw.trim();
      if (item === '') continue;
      const entry = normalizeEntry(item);
      if (!entries.includes(entry)) entries.push(entry);
    }
    return entries.length === 0 ? CidrList.empty : new CidrList(entries);
  }

  /** True when `ip` lies inside one of the networks; false for anything that is not an address. */
  contains(ip: string): boolean {
    if (this.#entries.length === 0) return false;
    const known = this.#answers.get(ip);
    if (known !== undefined) return known;
    const address = normalizeIp(ip);
    const family = isIP(address);
    const inside = family !== 0 && this.#blocks.check(address, family === 4 ? 'ipv4' : 'ipv6');
    if (this.#answers.size >= CACHE_SIZE) this.#answers.clear();
    this.#answers.set(ip, inside);
    return inside;
  }

  get size(): number {
    return this.#entries.length;
  }

  get isEmpty(): boolean {
    return this.#entries.length === 0;
  }

  /** Normalised text of each item: bare addresses stay bare, ranges keep their prefix. */
  get entries(): readonly string[] {
    return this.#entries;
  }

  toString(): string {
    return this.#entries.join(';');
  }

  toJSON(): readonly string[] {
    return this.#entries;
  }
}

function normalizeEntry(item: string): string {
  const slash = item.indexOf('/');
  const addressText = (slash < 0 ? item : item.slice(0, slash)).trim();
  const prefixText = slash < 0 ? undefined : item.slice(slash + 1).trim();
  if (isIP(addressText) === 0) {
    throw new Error(`"${item}" is not an IP address or CIDR range (like 192.168.0.0/16 or 2001:db8::/32)`);
  }
  const mapped = isIP(addressText) === 6 && isIP(normalizeIp(addressText)) === 4;
  const address = normalizeIp(addressText);
  const family = isIP(address);
  if (prefixText === undefined) return address;
  const max = family === 4 ? 32 : 128;
  const inputMax = mapped ? 128 : max;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > inputMax) {
    throw new Error(`"${item}" has an invalid prefix length (expected 0-${inputMax})`);
  }
  let bits = Number(prefixText);
  if (mapped) {
    // ::ffff:a.b.c.d/120 is the IPv4 network a.b.c.d/24; shorter prefixes reach beyond IPv4 space.
    if (bits < MAPPED_PREFIX_BITS) {
      throw new Error(`"${item}" has an invalid prefix length (an IPv4-mapped range needs 96-128)`);
    }
    bits -= MAPPED_PREFIX_BITS;
  }
  return `${address}/${bits}`;
}

function splitEntry(entry: string): [string, number] {
  const slash = entry.indexOf('/');
  if (slash < 0) return [entry, isIP(entry) === 4 ? 32 : 128];
  return [entry.slice(0, slash), Number(entry.slice(slash + 1))];
}
