import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import { readProxyHeader, ProxyProtocolError, type CidrList } from '@mtaq/net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, socketTimeout, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { refuseBareLineEndings, type DataCallback } from './bare-line-endings.js';
import { CR, lineLimit, StrictSMTPStream } from './command-lines.js';
import { libraryReplies, replies, replyText, type Reply } from './replies.js';

export interface MtaqServerOptions extends SMTPServerOptions {
  /**
   * Milliseconds to hold the 220 greeting for this client. smtp-server hard-codes 100 ms of
   * early-talker detection, which caps a short-lived session at ~10 messages/s; we make it policy.
   */
  greetingDelay(remoteAddress: string): number;
  /**
   * `smtp-proxy`: peers whose connections must start with a PROXY v1 or v2 header. The client
   * address in it is the session's from then on (onConnect checks, Received, JSON `connection`).
   * Other peers are never parsed for one: a `PROXY` line from them is just an unknown command.
   */
  proxy?: CidrList;
  /** Milliseconds a listed peer may take to deliver its header; default `socketTimeout`. */
  proxyTimeout?: number;
  /** Told about every header that could not be read; the socket is already destroyed. */
  onProxyError?(err: ProxyProtocolError, peer: string): void;
  /**
   * `smtp-max-errors`: error replies (4xx/5xx to commands or messages) a session may collect
   * without delivering mail before it is closed with `421 4.7.0`. Default 10.
   */
  maxErrors?: number;
  /** `smtp-require-tls`: nothing but EHLO/HELO/STARTTLS/NOOP/RSET/QUIT before TLS (530 5.7.0). */
  requireTls?: boolean;
}

type SocketOptions = SMTPConnectionOptions & { id: string };

/** A reply that already starts with an RFC 3463 code keeps it instead of smtp-server's default. */
const ENHANCED_STATUS = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server's connection with our policies: the configurable greeting delay; replies that
 * carry their own enhanced status or span several lines (the DATA reply lists one queue id per
 * recipient); strict command lines (bare LF/CR and over-long lines refused with 500 5.5.2);
 * and `smtp-max-errors`.
 */
class MtaqConnection extends SMTPConnection {
  #errors = 0;

  override init(): void {
    this._setListeners(() => {
      const options = this._server.options as MtaqServerOptions;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        this.#reply(replies.tooManyClients);
        return;
      }
      const delay = options.greetingDelay(this.remoteAddress);
      if (delay <= 0) {
        this.connectionReady();
        return;
      }
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const delivered = code === 250 && context === 'DATA_OK';
    if (code === libraryReplies.authBeforeStartTls.code) {
      // smtp-server's non-standard 538 for AUTH before STARTTLS; RFC 3207 / the reference say 530 5.7.0
      code = replies.startTlsFirst.code;
      data = replyText(replies.startTlsFirst);
    }
    if (typeof data === 'string' && data.includes('\n')) data = data.split(/\r?\n/);
    if (code === 250 && Array.isArray(data) && !this.secure && !this._server.options.allowInsecureAuth) {
      // smtp-server offers AUTH on plain sessions and refuses it later; we do not offer it at all (C21)
      data = data.filter((line) => !/^AUTH\b/.test(line));
    }
    const first = Array.isArray(data) ? data[0] : data;
    if (typeof first === 'string' && ENHANCED_STATUS.test(first)) {
      // the status is on the first line only; repeat it per line as RFC 2034 asks
      const status = first.slice(0, first.indexOf(' '));
      data = Array.isArray(data) ? data.map((l, i) => (i === 0 ? l : `${status} ${l}`)) : data;
      context = false;
    }
    super.send(code, data, context);
    this.#countError(code, delivered);
  }

  #reply(reply: Reply): void {
    this.send(reply.code, replyText(reply));
  }

  /**
   * Every 4xx/5xx reply to a command or message counts; accepted mail starts the count afresh
   * (Postfix's "errors without delivering mail"). At `maxErrors` the session ends with 421, right
   * after the reply that reached it.
   */
  #countError(code: number, delivered: boolean): void {
    if (delivered) {
      this.#errors = 0;
      return;
    }
    if (code < 400 || code === 421 || !this._ready || this._closing) return;
    const max = (this._server.options as MtaqServerOptions).maxErrors ?? 10;
    if (++this.#errors >= max) this.#reply(replies.tooManyErrors(this.name));
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    // smtp-server closes after 10 unrecognised commands whatever smtp-max-errors says; #countError
    // counts those (and every other error) instead
    this._unrecognizedCommands = 0;
    super._onCommand(command, callback);
  }

  override _createParser(): SMTPStream {
    const parser = new StrictSMTPStream({ maxCommandLength: this._server.options.maxCommandLength });
    parser.oncommand = (line, callback) => this.#onLine(parser, line, callback);
    parser.on('error', (err: Error) => {
      // smtp-server's parser gives up on a line past maxCommandLength (16 KiB) without a line
      // end, and cannot go on after that: refuse it like any long line, then close
      if (/too long/i.test(err.message)) this.#reply(replies.lineTooLong);
      if (!this._closing) this.#reply(replies.unreadableInput(this.name, err.message));
    });
    return parser;
  }

  /** `smtp-require-tls`: before TLS, only the commands that lead to it (or away) are taken. */
  #needsTls(line: Buffer): boolean {
    if (this.secure || !(this._server.options as MtaqServerOptions).requireTls || this._nextHandler !== false) return false;
    const verb = /^[A-Za-z]+/.exec(line.toString('latin1', 0, 16))?.[0]?.toUpperCase() ?? '';
    return !ALLOWED_BEFORE_TLS.has(verb);
  }

  #onLine(parser: StrictSMTPStream, line: Buffer, callback?: () => void): void {
    const bareLf = parser.takeBareLf();
    // plaintext during a TLS handshake, early talkers and shutdown: smtp-server's own handling
    if (this._upgrading || !this._ready || this._server._closeTimeout) {
      this._onCommand(line, callback);
      return;
    }
    let refusal: Reply | undefined;
    if (bareLf || line.includes(CR)) refusal = replies.bareLineEndingInCommand;
    else if (line.length + 2 > lineLimit(line, this._nextHandler !== false)) refusal = replies.lineTooLong;
    else if (this.#needsTls(line)) refusal = replies.startTlsFirst;
    if (refusal === undefined) {
      this._onCommand(line, callback);
      return;
    }
    // a SASL exchange does not survive a refused line
    this._nextHandler = false;
    this.#reply(refusal);
    const next = callback ?? ((): void => undefined);
    setImmediate(() => this._whenWritable(next));
  }
}

const ALLOWED_BEFORE_TLS = new Set(['EHLO', 'HELO', 'STARTTLS', 'NOOP', 'RSET', 'QUIT']);

function sessionId(): string {
  // the same form smtp-server gives its own ids
  return BigInt('0x' + randomBytes(10).toString('hex'))
    .toString(32)
    .padStart(16, '0');
}

export class MtaqSMTPServer extends SMTPServer {
  constructor(options: MtaqServerOptions) {
    super(options);
    // smtp-server installs options.onData as an own property; wrap whatever is there
    const appOnData = this.onData;
    this.onData = (stream: SMTPServerDataStream, session: SMTPServerSession, callback: DataCallback): void =>
      refuseBareLineEndings(stream, callback, (checked, done) => appOnData.call(this, checked, session, done));
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new MtaqConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }

  /**
   * smtp-server asks this before guarding a new socket (pending-socket limit and timeout) and
   * before `_handleProxy`. Ours: the peer is inside `smtp-proxy` (`::ffff:` mapped IPv4 included).
   */
  override _expectsProxyHeader(socket: net.Socket): boolean {
    const proxy = (this.options as MtaqServerOptions).proxy;
    return proxy !== undefined && !proxy.isEmpty && proxy.contains(socket.remoteAddress ?? '');
  }

  /**
   * smtp-server calls this for every accepted socket before connect() (and, on implicit-TLS
   * listeners, before the handshake: the header comes in clear ahead of the ClientHello). Its own
   * version reads PROXY v1 only; ours reads v1 and v2 with {@link readProxyHeader}, which puts the
   * bytes after the header back on the socket for the SMTP parser or the TLS handshake. The
   * addresses handed to the callback become the connection's remote/local address and port.
   */
  override _handleProxy(socket: net.Socket, callback: (err: Error | null, socketOptions?: SocketOptions) => void): void {
    if (!this._expectsProxyHeader(socket)) {
      super._handleProxy(socket, callback);
      return;
    }
    const options = this.options as MtaqServerOptions;
    const peer = socket.remoteAddress ?? '';
    // no crash from an error between the header and connect() attaching its own listener
    const guard = (): void => undefined;
    socket.on('error', guard);
    readProxyHeader(socket, { timeoutMs: options.proxyTimeout ?? socketTimeout(options) })
      .then(
        (header) => {
          const socketOptions: SocketOptions = { id: sessionId() };
          // LOCAL, UNKNOWN and AF_UNSPEC carry no addresses: the socket's own are used
          if (header.source && header.destination) {
            socketOptions.remoteAddress = header.source.address;
            socketOptions.remotePort = header.source.port;
            socketOptions.localAddress = header.destination.address;
            socketOptions.localPort = header.destination.port;
          }
          callback(null, socketOptions);
          socket.off('error', guard);
        },
        (err: unknown) => {
          socket.destroy();
          const error = err instanceof ProxyProtocolError ? err : new ProxyProtocolError('MALFORMED', String(err));
          options.onProxyError?.(error, peer);
          callback(error);
        },
      )
      .catch((err: unknown) => this._onError(err instanceof Error ? err : new Error(String(err))));
  }
}
