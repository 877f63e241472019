import net from 'node:net';
import { SpamdError } from './errors.js';
import { parseReply, type SpamVerdict } from './reply.js';

/**
 * A client for SpamAssassin's spamd (its PROTOCOL file, spamc/1.5), written by hand because the npm
 * clients send strings (8-bit mail gets a wrong Content-length and mangled bytes), cannot read
 * negative scores, settle twice on a connection error and leave the socket open on a timeout.
 */

export interface SpamdClientOptions {
  host: string;
  port: number;
}

export interface SpamdCheckOptions {
  /** For the whole check: connect, send and reply. The socket is destroyed when it runs out. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export class SpamdClient {
  readonly host: string;
  readonly port: number;

  constructor({ host, port }: SpamdClientOptions) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`spamd port ${port} is not 1-65535`);
    this.host = host;
    this.port = port;
  }

  /**
   * Asks spamd for a verdict on `message`, the raw bytes exactly as they will be delivered
   * (several buffers are sent one after another without being joined). Rejects with a SpamdError
   * only, and settles once: whatever happens afterwards on the socket is ignored.
   */
  check(message: Buffer | readonly Buffer[], options: SpamdCheckOptions): Promise<SpamVerdict> {
    const { timeoutMs, signal } = options;
    const chunks: readonly Buffer[] = Buffer.isBuffer(message) ? [message] : message;
    return new Promise<SpamVerdict>((resolve, reject) => {
      // setTimeout turns anything past 2^31-1 ms into 1 ms
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647) {
        reject(new RangeError(`spamd timeoutMs ${timeoutMs} is not 1-2147483647`));
        return;
      }
      if (signal?.aborted) {
        reject(new SpamdError('aborted', 'spamd check aborted before it started', { cause: signal.reason }));
        return;
      }
      const where = `spamd at ${this.host}:${this.port}`;
      let settled = false;
      let connected = false;
      let reply: Buffer = Buffer.alloc(0);

      const socket = net.connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        fail(new SpamdError('timeout', `${where} gave no verdict within ${timeoutMs} ms${connected ? '' : ' (not connected)'}`));
      }, timeoutMs);
      const onAbort = (): void => fail(new SpamdError('aborted', `spamd check aborted`, { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });

      // Every way out goes through here, so the socket never outlives the check: a late byte, reset
      // or close after the verdict finds `settled` and is dropped.
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        return true;
      };
      function fail(error: SpamdError): void {
        if (settle()) reject(error);
      }
      function read(ended: boolean): void {
        let verdict: SpamVerdict | undefined;
        try {
          verdict = parseReply(reply, ended);
        } catch (error) {
          fail(error as SpamdError);
          return;
        }
        if (verdict !== undefined && settle()) resolve(verdict);
      }

      socket.on('connect', () => {
        connected = true;
        // Content-length is in bytes, and the body goes out as the caller's bytes: no string
        // round trip anywhere, so 8-bit and invalid-UTF-8 mail arrives at spamd unchanged.
        const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
        socket.cork();
        socket.write(`SYMBOLS SPAMC/1.5\r\nContent-length: ${length}\r\n\r\n`, 'latin1');
        for (const chunk of chunks) socket.write(chunk);
        socket.uncork();
        // spamd reads exactly Content-length bytes; the FIN is what spamc sends too and tells a
        // peer that is not spamd that nothing more is coming.
        socket.end();
      });
      socket.on('data', (chunk: Buffer) => {
        reply = reply.length === 0 ? chunk : Buffer.concat([reply, chunk]);
        read(false);
      });
      socket.on('end', () => read(true));
      socket.on('error', (error) => {
        const what = connected ? `connection to ${where} broke` : `cannot connect to ${where}`;
        fail(new SpamdError('connect', `${what}: ${error.message}`, { cause: error }));
      });
      // 'end' or 'error' comes first in every case seen; this only guarantees a settle.
      socket.on('close', () => fail(new SpamdError('protocol', `${where} closed the connection without a reply`)));
    });
  }
}
