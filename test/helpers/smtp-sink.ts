import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

/** What a sink does at a stage: accept (undefined), answer with a code, drop the connection, or stall. */
export type SinkAction = undefined | { code: number; message: string } | 'drop' | 'stall';

export interface SinkOptions {
  host?: string;
  port?: number;
  /** Name in the 220 greeting. */
  name?: string;
  /** Per stage decision; `address` is the MAIL FROM / RCPT TO address, `mime` the message at DATA. */
  decide?: (stage: 'connect' | 'mail' | 'rcpt' | 'data', info: { address?: string; mime?: string; session: SMTPServerSession }) => SinkAction;
  auth?: { user: string; pass: string };
  /** Offer STARTTLS (with smtp-server's built-in test certificate). */
  starttls?: boolean;
  /** Milliseconds to hold each message before answering DATA (keeps connections busy). */
  dataDelay?: number;
  dsn?: boolean;
}

export interface SunkMessage {
  from: string;
  to: string[];
  mime: string;
  remoteAddress: string;
  localAddress: string;
  user?: string;
  dsn?: { ret?: string | null; envid?: string | null; notify?: string[][] };
}

/**
 * A real SMTP server standing in for an upstream MX or smarthost. It records every message and
 * the address each connection came from, and counts concurrent connections.
 */
export class TestSink {
  readonly received: SunkMessage[] = [];
  readonly peers: string[] = [];
  concurrent = 0;
  maxConcurrent = 0;
  connections = 0;

  private constructor(
    private readonly server: SMTPServer,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(options: SinkOptions = {}): Promise<TestSink> {
    let sink!: TestSink;
    const act = (action: SinkAction, session: SMTPServerSession, callback: (err?: Error | null) => void): boolean => {
      if (action === undefined) return false;
      if (action === 'stall') return true;
      if (action === 'drop') {
        // smtp-server has no API to hang up on a client; its connection objects hold the socket
        for (const connection of server.connections) {
          const c = connection as unknown as { session: SMTPServerSession; _socket: { destroy(): void } };
          if (c.session === session) c._socket.destroy();
        }
        return true;
      }
      callback(Object.assign(new Error(action.message), { responseCode: action.code }));
      return true;
    };
    const server = new SMTPServer({
      name: options.name ?? 'sink.test',
      logger: false,
      disableReverseLookup: true,
      hideDSN: !options.dsn,
      authOptional: true,
      allowInsecureAuth: true,
      // hideSTARTTLS alone still answers STARTTLS; disabling it is what "no TLS here" means
      disabledCommands: [...(options.auth ? [] : ['AUTH']), ...(options.starttls ? [] : ['STARTTLS'])],
      onAuth(auth, _session, callback) {
        if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) callback(null, { user: auth.username });
        else callback(Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }));
      },
      onConnect(session, callback) {
        sink.connections++;
        sink.concurrent++;
        sink.maxConcurrent = Math.max(sink.maxConcurrent, sink.concurrent);
        sink.peers.push(session.remoteAddress);
        if (!act(options.decide?.('connect', { session }), session, callback)) callback();
      },
      onClose() {
        sink.concurrent--;
      },
      onMailFrom(address, session, callback) {
        if (!act(options.decide?.('mail', { address: address.address, session }), session, callback)) callback();
      },
      onRcptTo(address, session, callback) {
        if (!act(options.decide?.('rcpt', { address: address.address, session }), session, callback)) callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const mime = Buffer.concat(chunks).toString('utf8');
          const finish = (): void => {
            if (act(options.decide?.('data', { mime, session }), session, callback)) return;
            sink.received.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              mime,
              remoteAddress: session.remoteAddress,
              localAddress: session.localAddress,
              ...(session.user ? { user: String(session.user) } : {}),
              ...(options.dsn ? { dsn: { ret: session.envelope.dsn?.ret, envid: session.envelope.dsn?.envid, notify: session.envelope.rcptTo.map((r) => r.dsn?.notify ?? []) } } : {}),
            });
            callback(null, 'Ok queued as sink');
          };
          if (options.dataDelay) setTimeout(finish, options.dataDelay);
          else finish();
        });
      },
    });
    server.on('error', () => undefined);
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve) => server.listen(options.port ?? 0, host, resolve));
    const port = (server.server.address() as AddressInfo).port;
    sink = new TestSink(server, host, port);
    return sink;
  }

  /** Resolves when `count` messages arrived, or rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`sink got ${this.received.length}/${count} messages`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
