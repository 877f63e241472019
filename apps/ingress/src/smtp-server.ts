import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import type tls from 'node:tls';
import { readProxyHeader, ProxyProtocolError, type CidrList } from '@mtaq/net';
import { SMTPServer, type SMTPServerDataResult, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { SMTPConnection, socketTimeout, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';

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
}

type DataCallback = (err?: Error | null, message?: string | SMTPServerDataResult[]) => void;
type SocketOptions = SMTPConnectionOptions & { id: string };

/** A reply that already starts with an RFC 3463 code keeps it instead of smtp-server's default. */
const ENHANCED_STATUS = /^[245]\.\d{1,3}\.\d{1,3} /;

const CR = 0x0d;
const LF = 0x0a;

/**
 * Longest command line, CRLF included: 512 octets (RFC 5321 §4.5.3.1.4), plus what the
 * extensions we offer let a client append — MAIL: SIZE +26 (RFC 1870), RET/ENVID +100 (RFC 3461),
 * AUTH= +500 (RFC 4954), SMTPUTF8 +10 (RFC 6531), BODY=8BITMIME +14; RCPT: NOTIFY/ORCPT +500
 * (RFC 3461). AUTH lines and SASL responses may be 12288 (RFC 4954 §4).
 */
const LINE_LIMIT = 512;
const MAIL_LINE_LIMIT = LINE_LIMIT + 26 + 100 + 500 + 10 + 14;
const RCPT_LINE_LIMIT = LINE_LIMIT + 500;
const AUTH_LINE_LIMIT = 12288;

function lineLimit(line: Buffer, saslResponse: boolean): number {
  if (saslResponse) return AUTH_LINE_LIMIT;
  switch (line.toString('latin1', 0, 5).toUpperCase()) {
    case 'MAIL ':
      return MAIL_LINE_LIMIT;
    case 'RCPT ':
      return RCPT_LINE_LIMIT;
    case 'AUTH ':
      return AUTH_LINE_LIMIT;
    default:
      return LINE_LIMIT;
  }
}

function replyError(status: string, text: string, responseCode: number): Error & { responseCode: number } {
  return Object.assign(new Error(`${status} ${text}`), { responseCode });
}

/**
 * smtp-server's command parser, unchanged except that it remembers how each command line ended.
 *
 * SMTP smuggling (SEC Consult, 2023) relies on receivers that accept something other than
 * CRLF as a line end. smtp-server's SMTPStream already ends DATA only at `<CRLF>.<CRLF>` (so
 * `\n.\n`, `\r.\r`, `\r\n.\r` and friends cannot end a message; they reach the message stream,
 * where {@link refuseBareLineEndings} refuses it), but it splits *commands* at `/\r?\n/`, so a
 * bare LF ends a command line and the terminator is gone by the time the line is handed over.
 * Instead of forking the parser we note, for every LF it is about to split at in command mode,
 * whether a CR preceded it; {@link MtaqConnection} takes one note per line and refuses lines
 * that ended in a bare LF (a bare CR stays inside the line, where it is visible anyway).
 * Notes left over when the parser switches to DATA belong to message bytes and are dropped.
 */
class StrictSMTPStream extends SMTPStream {
  #bareLf: boolean[] = [];
  #taken = 0;

  override _write(chunk: Buffer, encoding: BufferEncoding | 'buffer', next: (err?: Error | null) => void): void {
    if (this._dataMode) {
      this.#bareLf = [];
      this.#taken = 0;
    } else if (chunk?.length) {
      if (this.#taken >= this.#bareLf.length) {
        this.#bareLf = [];
        this.#taken = 0;
      }
      // the base parser prepends its unterminated remainder, so a LF first in the chunk follows its last byte
      const remainder = this._remainder;
      const before = remainder.length ? remainder.charCodeAt(remainder.length - 1) : LF;
      for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
        this.#bareLf.push((i > 0 ? chunk[i - 1] : before) !== CR);
      }
    }
    super._write(chunk, encoding, next);
  }

  /** How the line being handed over now ended: true for a bare LF (false for the unterminated last line at EOF). */
  takeBareLf(): boolean {
    return this.#taken < this.#bareLf.length ? this.#bareLf[this.#taken++]! : false;
  }
}

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
        this.send(421, '4.7.0 Too many connected clients, try again in a moment');
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
    if (code === 538) {
      // smtp-server's non-standard 538 for AUTH before STARTTLS; RFC 3207 / the reference say 530 5.7.0
      code = 530;
      data = '5.7.0 Must issue a STARTTLS command first';
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
    if (++this.#errors >= max) this.send(421, `4.7.0 ${this.name} Error: too many errors, closing connection`);
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
      if (/too long/i.test(err.message)) this.send(500, '5.5.2 Line too long');
      if (!this._closing) this.send(421, `4.7.0 ${this.name} Error: ${err.message}, closing connection`);
    });
    return parser;
  }

  #onLine(parser: StrictSMTPStream, line: Buffer, callback?: () => void): void {
    const bareLf = parser.takeBareLf();
    // plaintext during a TLS handshake, early talkers and shutdown: smtp-server's own handling
    if (this._upgrading || !this._ready || this._server._closeTimeout) {
      this._onCommand(line, callback);
      return;
    }
    let refusal: string | undefined;
    if (bareLf || line.includes(CR)) refusal = '5.5.2 Bare LF or CR in command line (RFC 5321 section 2.3.8)';
    else if (line.length + 2 > lineLimit(line, this._nextHandler !== false)) refusal = '5.5.2 Line too long';
    if (refusal === undefined) {
      this._onCommand(line, callback);
      return;
    }
    // a SASL exchange does not survive a refused line
    this._nextHandler = false;
    this.send(500, refusal);
    const next = callback ?? ((): void => undefined);
    setImmediate(() => this._whenWritable(next));
  }
}

/**
 * Scans message bytes for a CR not followed by LF or a LF not preceded by CR. The message as
 * smtp-server hands it over always ends in CRLF (the one before the final dot), so a pending CR
 * at the end can only mean the stream was cut.
 */
class LineEndingCheck {
  violation: 'bare LF' | 'bare CR' | undefined;
  #last = LF; // the DATA command's CRLF came before the first byte
  #pendingCr = false;

  scan(chunk: Buffer): void {
    if (this.violation || chunk.length === 0) return;
    if (this.#pendingCr && chunk[0] !== LF) {
      this.violation = 'bare CR';
      return;
    }
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      if ((i > 0 ? chunk[i - 1] : this.#last) !== CR) {
        this.violation = 'bare LF';
        return;
      }
    }
    for (let i = chunk.indexOf(CR); i >= 0; i = chunk.indexOf(CR, i + 1)) {
      if (i + 1 < chunk.length && chunk[i + 1] !== LF) {
        this.violation = 'bare CR';
        return;
      }
    }
    this.#last = chunk[chunk.length - 1]!;
    this.#pendingCr = this.#last === CR;
  }
}

/**
 * Puts a check between smtp-server's message stream and the application's onData: bytes are
 * passed on as they come (back-pressure kept), but the end of the message is passed on only if it
 * had no bare LF or CR. A message that had one is answered `554 5.6.11` for the application,
 * which never sees its end and so never queues it. Whatever the application answers is held
 * until the whole message is in, so a refusal always wins.
 */
function refuseBareLineEndings(raw: SMTPServerDataStream, callback: DataCallback, deliver: (stream: SMTPServerDataStream, done: DataCallback) => void): void {
  const check = new LineEndingCheck();
  const forApp = new PassThrough() as SMTPServerDataStream;
  // smtp-server keeps the size facts on its own stream; the application reads them on ours
  Object.defineProperties(forApp, {
    byteLength: { get: () => raw.byteLength, set: () => undefined, configurable: true },
    sizeExceeded: { get: () => raw.sizeExceeded, set: () => undefined, configurable: true },
  });
  let ended = false;
  let answered = false;
  let verdict: Parameters<DataCallback> | undefined;
  const answer = (): void => {
    if (answered || !ended) return;
    if (check.violation) {
      answered = true;
      callback(replyError('5.6.11', `Message refused: ${check.violation} in message (RFC 5321 section 2.3.8)`, 554));
    } else if (verdict) {
      answered = true;
      callback(...verdict);
    }
  };
  const resume = (): void => {
    raw.resume();
  };
  forApp.on('drain', resume);
  forApp.on('close', resume);
  raw.on('data', (chunk: Buffer) => {
    check.scan(chunk);
    if (check.violation) {
      if (!forApp.destroyed) forApp.destroy();
      return;
    }
    // an application that already answered (or destroyed its stream) gets nothing more: drain
    if (verdict || forApp.destroyed || forApp.writableEnded) return;
    if (!forApp.write(chunk)) raw.pause();
  });
  raw.on('end', () => {
    ended = true;
    if (!check.violation && !forApp.destroyed) forApp.end();
    answer();
  });
  raw.on('error', (err: Error) => {
    // smtp-server destroys its stream when the client leaves mid-message
    if (!forApp.destroyed) forApp.destroy(forApp.listenerCount('error') ? err : undefined);
  });
  raw.on('close', () => {
    if (!ended && !forApp.destroyed) forApp.destroy();
  });
  deliver(forApp, (err, message) => {
    if (verdict) return;
    verdict = [err, message];
    raw.resume();
    answer();
  });
}

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
