import { isIPv4, isIPv6, type Socket } from 'node:net';
import { normalizeIp } from './ip.js';

/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) as a load balancer writes
 * it in front of a TCP stream: who the client really is. Parsing is strict — a header that is
 * not exactly what the spec allows is refused rather than guessed at, because the address it
 * carries decides relaying rights.
 */

export interface ProxyAddress {
  /** Normalised: IPv4-mapped IPv6 becomes IPv4, IPv6 is lower-cased and compressed. */
  readonly address: string;
  readonly port: number;
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `LOCAL` (v2 health checks and the like): use the socket's own addresses. */
  readonly command: 'PROXY' | 'LOCAL';
  /**
   * Present for TCP over IPv4/IPv6. Absent for `LOCAL`, v1 `UNKNOWN` and v2 `AF_UNSPEC`: the
   * receiver then uses the socket's own addresses, as the spec says.
   */
  readonly source?: ProxyAddress;
  readonly destination?: ProxyAddress;
}

export type ProxyErrorCode =
  /** bytes that are not a PROXY header, or a header that breaks the spec */
  | 'MALFORMED'
  /** the connection ended (or failed) before the header was complete */
  | 'TRUNCATED'
  /** the header was not complete in time */
  | 'TIMEOUT'
  /** longer than allowed: 107 bytes for v1, V2_MAX_LENGTH for v2 */
  | 'OVERSIZED'
  /** a well-formed header for something a TCP server cannot use (UDP, UNIX sockets, other versions/commands) */
  | 'UNSUPPORTED';

export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** v1: the whole line, CRLF included, is at most 107 bytes (spec §2.1). */
export const V1_MAX_LENGTH = 107;
/** v2: 16 fixed bytes + address block and TLVs; more than a load balancer ever sends (~2 KiB). */
export const V2_MAX_LENGTH = 16 + 2048;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const PORT = /^(?:0|[1-9]\d{0,4})$/;

export interface ParsedProxyHeader {
  readonly header: ProxyHeader;
  /** Bytes of `buffer` the header took; the rest belongs to the proxied stream. */
  readonly length: number;
}

/**
 * Parses a header from the start of `buffer`. Returns null while the bytes so far are a valid
 * beginning but not yet a whole header; throws {@link ProxyProtocolError} as soon as they cannot
 * become one (so garbage is refused at its first wrong byte, not after a timeout).
 */
export function parseProxyHeader(buffer: Buffer): ParsedProxyHeader | null {
  if (buffer.length === 0) return null;
  if (buffer[0] === V1_PREFIX[0]) return parseV1(buffer);
  if (buffer[0] === V2_SIGNATURE[0]) return parseV2(buffer);
  throw new ProxyProtocolError('MALFORMED', 'not a PROXY protocol header');
}

function startsWithPartial(buffer: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buffer.length, prefix.length);
  return buffer.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(buffer: Buffer): ParsedProxyHeader | null {
  if (!startsWithPartial(buffer, V1_PREFIX)) throw new ProxyProtocolError('MALFORMED', 'not a PROXY protocol header');
  // only printable US-ASCII, and a CR only as the first half of the closing CRLF
  const limit = Math.min(buffer.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const byte = buffer[i]!;
    if (byte === CR) {
      if (i + 1 >= V1_MAX_LENGTH) break; // no room left for its LF: oversized below
      if (i + 1 >= buffer.length) break; // its LF may still come
      if (buffer[i + 1] !== LF) throw new ProxyProtocolError('MALFORMED', 'PROXY v1 line has a bare CR');
      end = i;
      break;
    }
    if (byte === LF) throw new ProxyProtocolError('MALFORMED', 'PROXY v1 line ends in a bare LF');
    if (byte < 0x20 || byte > 0x7e) throw new ProxyProtocolError('MALFORMED', 'PROXY v1 line has a control or non-ASCII byte');
  }
  if (end < 0) {
    if (buffer.length >= V1_MAX_LENGTH) throw new ProxyProtocolError('OVERSIZED', `PROXY v1 line longer than ${V1_MAX_LENGTH} bytes`);
    return null;
  }
  const length = end + 2;
  const fields = buffer.toString('latin1', 0, end).split(' ');
  const family = fields[1];
  if (family === 'UNKNOWN') {
    // "the receiver must ignore anything presented before the CRLF is found"
    return { header: { version: 1, command: 'PROXY' }, length };
  }
  if (family !== 'TCP4' && family !== 'TCP6') throw new ProxyProtocolError('MALFORMED', `PROXY v1 protocol ${JSON.stringify(family ?? '')} is not TCP4, TCP6 or UNKNOWN`);
  if (fields.length !== 6) throw new ProxyProtocolError('MALFORMED', 'PROXY v1 line needs exactly: PROXY family src dst sport dport');
  const [, , src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? isIPv4 : isIPv6;
  for (const address of [src, dst]) {
    // isIPv6 also takes zone ids (fe80::1%eth0), which never name a remote peer
    if (!valid(address) || address.includes('%')) throw new ProxyProtocolError('MALFORMED', `PROXY v1 address ${JSON.stringify(address)} is not ${family === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  }
  return {
    header: {
      version: 1,
      command: 'PROXY',
      source: { address: normalizeIp(src), port: v1Port(sport) },
      destination: { address: normalizeIp(dst), port: v1Port(dport) },
    },
    length,
  };
}

function v1Port(text: string): number {
  const port = PORT.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) throw new ProxyProtocolError('MALFORMED', `PROXY v1 port ${JSON.stringify(text)} is not 0-65535`);
  return port;
}

function parseV2(buffer: Buffer): ParsedProxyHeader | null {
  if (!startsWithPartial(buffer, V2_SIGNATURE)) throw new ProxyProtocolError('MALFORMED', 'not a PROXY protocol header');
  if (buffer.length < 16) {
    // judge the version/command and family bytes as soon as they are there
    if (buffer.length > 12) versionCommand(buffer[12]!);
    if (buffer.length > 13) familyProtocol(buffer[13]!);
    return null;
  }
  const command = versionCommand(buffer[12]!);
  const [family, protocol] = familyProtocol(buffer[13]!);
  const payload = buffer.readUInt16BE(14);
  const length = 16 + payload;
  if (length > V2_MAX_LENGTH) throw new ProxyProtocolError('OVERSIZED', `PROXY v2 header of ${length} bytes is over ${V2_MAX_LENGTH}`);
  if (buffer.length < length) return null;
  // LOCAL: "the receiver must accept this connection as valid and must use the real connection
  // endpoints and discard the protocol block including the family"
  if (command === 'LOCAL') return { header: { version: 2, command }, length };
  if (family === 0) return { header: { version: 2, command }, length }; // AF_UNSPEC: addresses unknown
  if (family === 3 || protocol !== 1) {
    throw new ProxyProtocolError('UNSUPPORTED', `PROXY v2 ${family === 3 ? 'UNIX socket' : protocol === 2 ? 'UDP' : 'unspecified protocol'} connections are not accepted`);
  }
  const block = buffer.subarray(16, length);
  const addressBytes = family === 1 ? 4 : 16;
  const needed = addressBytes * 2 + 4;
  if (block.length < needed) throw new ProxyProtocolError('MALFORMED', `PROXY v2 address block of ${block.length} bytes is shorter than ${needed}`);
  checkTlvs(block.subarray(needed));
  const address = family === 1 ? ipv4 : ipv6;
  return {
    header: {
      version: 2,
      command,
      source: { address: address(block.subarray(0, addressBytes)), port: block.readUInt16BE(addressBytes * 2) },
      destination: { address: address(block.subarray(addressBytes, addressBytes * 2)), port: block.readUInt16BE(addressBytes * 2 + 2) },
    },
    length,
  };
}

function versionCommand(byte: number): 'PROXY' | 'LOCAL' {
  if (byte >> 4 !== 2) throw new ProxyProtocolError('UNSUPPORTED', `PROXY protocol version ${byte >> 4} after a v2 signature`);
  const command = byte & 0x0f;
  if (command === 0) return 'LOCAL';
  if (command === 1) return 'PROXY';
  throw new ProxyProtocolError('UNSUPPORTED', `PROXY v2 command ${command} is neither LOCAL nor PROXY`);
}

/** [family (0 UNSPEC, 1 INET, 2 INET6, 3 UNIX), protocol (0 UNSPEC, 1 STREAM, 2 DGRAM)] */
function familyProtocol(byte: number): [number, number] {
  const family = byte >> 4;
  const protocol = byte & 0x0f;
  if (family > 3 || protocol > 2) throw new ProxyProtocolError('MALFORMED', `PROXY v2 family/protocol byte 0x${byte.toString(16).padStart(2, '0')} is undefined`);
  return [family, protocol];
}

/** TLVs are skipped, but they must tile the rest of the block exactly (type, 16-bit length, value). */
function checkTlvs(tlvs: Buffer): void {
  let offset = 0;
  while (offset < tlvs.length) {
    if (offset + 3 > tlvs.length) throw new ProxyProtocolError('MALFORMED', 'PROXY v2 TLV header cut short');
    offset += 3 + tlvs.readUInt16BE(offset + 1);
    if (offset > tlvs.length) throw new ProxyProtocolError('MALFORMED', 'PROXY v2 TLV value runs past the header');
  }
}

function ipv4(bytes: Buffer): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

function ipv6(bytes: Buffer): string {
  // ::ffff:a.b.c.d is an IPv4 peer, written as such like everywhere else in mtaq
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return ipv4(bytes.subarray(12));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return normalizeIp(groups.join(':'));
}

/**
 * Reads a PROXY v1 or v2 header off a freshly accepted socket (in paused mode, like smtp-server
 * does) and puts every byte after it back with `socket.unshift()`, so whatever consumes the socket
 * next — an SMTP parser, a TLS handshake — sees the client's stream from its first byte.
 *
 * Rejects with {@link ProxyProtocolError}: MALFORMED/OVERSIZED/UNSUPPORTED as soon as the bytes
 * say so, TRUNCATED when the socket ends, closes or fails first, TIMEOUT after `timeoutMs`. The
 * socket is left as it is on failure: the caller destroys it.
 */
export function readProxyHeader(socket: Socket, options: { timeoutMs: number }): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: ProxyProtocolError | null, header?: ProxyHeader): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) {
        // a late error on a socket nobody listens to any more must not crash the process
        socket.on('error', () => undefined);
        reject(error);
      } else resolve(header!);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        let parsed: ParsedProxyHeader | null;
        try {
          parsed = parseProxyHeader(buffered);
        } catch (err) {
          finish(err instanceof ProxyProtocolError ? err : new ProxyProtocolError('MALFORMED', String(err)));
          return;
        }
        if (parsed) {
          const rest = buffered.subarray(parsed.length);
          if (rest.length) socket.unshift(rest);
          finish(null, parsed.header);
          return;
        }
      }
    };
    const onEnd = (): void => finish(new ProxyProtocolError('TRUNCATED', `connection ended after ${buffered.length} bytes of PROXY header`));
    const onClose = (): void => finish(new ProxyProtocolError('TRUNCATED', `connection closed after ${buffered.length} bytes of PROXY header`));
    const onError = (err: Error): void => finish(new ProxyProtocolError('TRUNCATED', `connection failed before the PROXY header was complete: ${err.message}`, { cause: err }));
    const timer = setTimeout(
      () => finish(new ProxyProtocolError('TIMEOUT', `no complete PROXY header within ${options.timeoutMs} ms (${buffered.length} bytes)`)),
      options.timeoutMs,
    );
    timer.unref();
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.once('error', onError);
    if (socket.destroyed) onClose();
  });
}
