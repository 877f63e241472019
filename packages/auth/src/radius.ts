import { createHash, createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, maskAuthUrl, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';

const ACCESS_ACCEPT = 2;
const ACCESS_REJECT = 3;
const ACCESS_CHALLENGE = 11;
const MESSAGE_AUTHENTICATOR = 80;
/** Transmissions per login: the timeout is split evenly between them (UDP loses packets). */
const ATTEMPTS = 3;

/**
 * `radius://identifier:secret@host:port` (port 1812 when omitted): one Access-Request with
 * User-Name, User-Password, NAS-Identifier = identifier (`mtaq` when empty), Calling-Station-Id =
 * the client's IP and a Message-Authenticator (RFC 3579, the BlastRADIUS mitigation).
 * Access-Accept accepts; Access-Reject and Access-Challenge (which we cannot answer) reject; no
 * valid answer within the timeout, after retransmissions, is 'unavailable'.
 *
 * The `radius` package builds the request (attribute encoding, User-Password hiding). Answers are
 * checked here: the Response Authenticator and, when present, the Message-Authenticator, compared
 * byte-exact in constant time (the package compares them as decoded strings). Answers that fail
 * the check, come from another port or carry another identifier are ignored, as RFC 2865 asks.
 */
export class RadiusBackend implements AuthBackend {
  readonly name = 'radius';
  readonly plainSecrets = false;
  readonly #host: string;
  readonly #port: number;
  readonly #secret: string;
  readonly #nasIdentifier: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(url: string, options: { timeout: number; logger?: Logger }) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AuthConfigError(`${maskAuthUrl(url)} is not a valid URL (expected radius://identifier:secret@host:port)`);
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') throw new AuthConfigError(`${maskAuthUrl(url)}: no host`);
    const secret = decodeURIComponent(parsed.password);
    if (secret === '') throw new AuthConfigError(`${maskAuthUrl(url)}: no shared secret (radius://identifier:secret@host:port)`);
    this.#host = host;
    this.#port = parsed.port === '' ? 1812 : Number(parsed.port);
    this.#secret = secret;
    this.#nasIdentifier = decodeURIComponent(parsed.username) || 'mtaq';
    this.#timeoutMs = Math.max(1, options.timeout * 1000);
    this.#logger = options.logger ?? silentLogger;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, false);
    if (rejected) return rejected;
    const password = request.password ?? '';
    // RFC 2865 §5.2: User-Password carries at most 128 octets; User-Name at most 253.
    if (Buffer.byteLength(password) > 128 || Buffer.byteLength(request.username) > 253) {
      return fail('invalid', 'credentials too long for RADIUS');
    }
    let radius: typeof import('radius');
    try {
      // loaded with the first login over RADIUS: a process without this backend never loads it
      radius = (await import('radius')).default;
    } catch (error) {
      this.#logger.error({ backend: 'radius', err: (error as Error).message }, 'the radius package cannot be loaded');
      return fail('unavailable', 'the radius package cannot be loaded');
    }
    const identifier = randomInt(256);
    const packet = radius.encode({
      code: 'Access-Request',
      secret: this.#secret,
      identifier,
      attributes: [
        ['User-Name', request.username],
        ['User-Password', password],
        ['NAS-Identifier', this.#nasIdentifier],
        ['Calling-Station-Id', request.remoteAddress],
      ],
      add_message_authenticator: true,
    });
    const code = await this.#exchange(packet);
    if (code === undefined) {
      this.#logger.warn({ backend: 'radius', server: `${this.#host}:${this.#port}` }, 'RADIUS server did not answer');
      return fail('unavailable', `no valid answer within ${this.#timeoutMs / 1000} s`);
    }
    if (code === ACCESS_ACCEPT) return ok(request.username);
    if (code === ACCESS_REJECT) return fail('invalid', 'Access-Reject');
    if (code === ACCESS_CHALLENGE) return fail('invalid', 'Access-Challenge (not supported)');
    return fail('unavailable', `unexpected RADIUS code ${code}`);
  }

  /** Sends and retransmits `packet`; resolves with the code of the first authentic answer. */
  #exchange(packet: Buffer): Promise<number | undefined> {
    return new Promise((resolve) => {
      const socket: Socket = createSocket(isIP(this.#host) === 6 ? 'udp6' : 'udp4');
      const interval = this.#timeoutMs / ATTEMPTS;
      let sent = 0;
      let done = false;
      const finish = (code: number | undefined): void => {
        if (done) return;
        done = true;
        clearInterval(retransmit);
        clearTimeout(deadline);
        socket.close();
        resolve(code);
      };
      const send = (): void => {
        if (sent >= ATTEMPTS) return;
        sent += 1;
        socket.send(packet, this.#port, this.#host, (error) => {
          if (error) this.#logger.debug({ backend: 'radius', err: error }, 'RADIUS send failed');
        });
      };
      const retransmit = setInterval(send, interval);
      const deadline = setTimeout(() => finish(undefined), this.#timeoutMs);
      socket.on('message', (answer, from) => {
        if (from.port !== this.#port) return;
        if (answer.length < 20 || answer[1] !== packet[1]) return;
        if (!authenticResponse(answer, packet, this.#secret)) {
          this.#logger.warn({ backend: 'radius', server: `${from.address}:${from.port}` }, 'RADIUS answer failed authentication (wrong shared secret?)');
          return;
        }
        finish(answer[0]);
      });
      // ICMP port unreachable surfaces here on some systems; keep waiting for a retransmission.
      socket.on('error', (error) => this.#logger.debug({ backend: 'radius', err: error }, 'RADIUS socket error'));
      send();
    });
  }
}

/** RFC 2865 §3 Response Authenticator, plus the RFC 3579 Message-Authenticator when present. */
function authenticResponse(answer: Buffer, request: Buffer, secret: string): boolean {
  const length = answer.readUInt16BE(2);
  if (length < 20 || length > answer.length) return false;
  const response = answer.subarray(0, length);
  const requestAuthenticator = request.subarray(4, 20);
  const expected = createHash('md5')
    .update(response.subarray(0, 4))
    .update(requestAuthenticator)
    .update(response.subarray(20))
    .update(secret, 'utf8')
    .digest();
  if (!timingSafeEqual(expected, response.subarray(4, 20))) return false;

  for (let offset = 20; offset + 2 <= length; ) {
    const type = response[offset]!;
    const attrLength = response[offset + 1]!;
    if (attrLength < 2 || offset + attrLength > length) return false;
    if (type === MESSAGE_AUTHENTICATOR) {
      if (attrLength !== 18) return false;
      const copy = Buffer.from(response);
      requestAuthenticator.copy(copy, 4);
      copy.fill(0, offset + 2, offset + 18);
      const mac = createHmac('md5', secret).update(copy).digest();
      return timingSafeEqual(mac, response.subarray(offset + 2, offset + 18));
    }
    offset += attrLength;
  }
  return true;
}
