import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  code: number;
  lines: string[];
  /** Whole reply text, lines joined by \n, without codes. */
  text: string;
}

/**
 * A raw SMTP dialogue over a socket, for asserting exact replies (codes, enhanced status, line
 * structure) that a full client library would hide.
 */
export class SmtpTalk {
  private buffer = '';
  private waiters: Array<() => void> = [];
  private closed = false;

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static async connect(port: number, host = '127.0.0.1', options: { tls?: boolean; localAddress?: string } = {}): Promise<SmtpTalk> {
    const socket = options.tls
      ? tls.connect({ port, host, rejectUnauthorized: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) })
      : net.connect({ port, host, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new SmtpTalk(socket);
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Reads one complete (possibly multi-line) reply. */
  async read(timeoutMs = 5000): Promise<Reply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        const lines = match[0].split('\r\n').filter(Boolean);
        return { code: Number(lines[0]!.slice(0, 3)), lines, text: lines.map((l) => l.slice(4)).join('\n') };
      }
      if (this.closed) throw new Error(`connection closed; unparsed: ${JSON.stringify(this.buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; buffer: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command line (CRLF added) and reads its reply. */
  async command(line: string, timeoutMs?: number): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read(timeoutMs);
  }

  /** STARTTLS and a fresh TLS session over the same socket. */
  async startTls(): Promise<Reply> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) return reply;
    this.socket.removeAllListeners('data');
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    return reply;
  }

  /** A whole transaction: MAIL, RCPTs, DATA, body; returns the final reply. */
  async send(from: string, to: string[], body: string): Promise<Reply> {
    const mail = await this.command(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return mail;
    for (const rcpt of to) {
      const r = await this.command(`RCPT TO:<${rcpt}>`);
      if (r.code !== 250) return r;
    }
    const data = await this.command('DATA');
    if (data.code !== 354) return data;
    const dotted = body.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    return this.command(`${dotted}${dotted.endsWith('\r\n') ? '' : '\r\n'}.`, 15000);
  }

  async quit(): Promise<void> {
    if (!this.closed) {
      this.write('QUIT\r\n');
      await new Promise((r) => setTimeout(r, 10));
    }
    this.socket.destroy();
  }
}
