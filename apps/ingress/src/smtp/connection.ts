import { processConnections, overTotal } from '@mtaq/limits';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { CR, lineLimit, StrictSMTPStream } from './command-lines.js';
import type { MtaqServerOptions } from './options.js';
import { libraryReplies, replies, replyText, type Reply } from './replies.js';

/** A reply that already starts with an RFC 3463 code keeps it instead of smtp-server's default. */
const ENHANCED_STATUS = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server's connection with our policies: the configurable greeting delay; replies that
 * carry their own enhanced status or span several lines (the DATA reply lists one queue id per
 * recipient); strict command lines (bare LF/CR and over-long lines refused with 500 5.5.2);
 * and `smtp-max-errors`.
 */
export class MtaqConnection extends SMTPConnection {
  #errors = 0;
  /** Greeted, so counted in `processConnections.inbound` until it closes. */
  #counted = false;
  #open = false;
  #rateTimer: NodeJS.Timeout | undefined;

  override init(): void {
    processConnections.accepted++;
    this.#open = true;
    this._setListeners(() => this.#admit(Date.now()));
  }

  override _onClose(): void {
    super._onClose();
    // smtp-server may get here more than once for one socket
    if (!this.#open) return;
    this.#open = false;
    processConnections.accepted--;
    clearInterval(this.#rateTimer);
    if (this.#counted) processConnections.inbound--;
  }

  /**
   * `smtp-connections-in` and `smtp-connections` (this process, in + out): the reference keeps a
   * connection over the cap waiting in the accept backlog, which Node cannot do; so it is held here
   * without a greeting until a slot frees, for at most `smtp-connections-wait`, then refused with
   * 421. Near the descriptor limit a connection is refused at once: holding it would use one more.
   */
  #admit(since: number): void {
    if (this._closing || this._socket.destroyed) return;
    const options = this._server.options as MtaqServerOptions;
    if (options.nearDescriptorLimit?.()) {
      this.#reply(replies.outOfDescriptors);
      return;
    }
    const full = (options.maxClients !== undefined && options.maxClients > 0 && processConnections.inbound >= options.maxClients) || overTotal(options.maxConnections ?? 0);
    if (full) {
      if (Date.now() - since >= (options.connectionsWaitMs ?? 0)) this.#reply(replies.tooManyClients);
      else setTimeout(() => this.#admit(since), 50).unref();
      return;
    }
    this.#counted = true;
    processConnections.inbound++;
    this.#watchRate(options);
    const delay = options.greetingDelay(this.remoteAddress);
    if (delay <= 0) {
      this.connectionReady();
      return;
    }
    setTimeout(() => this.connectionReady(), delay).unref();
  }

  /**
   * `smtp-min-rate`: the idle timeout alone lets a client hold a session forever by sending one byte
   * every few seconds. A command line or message that has been arriving for longer than the grace
   * period must have come at the minimum rate, or the session ends with 421.
   */
  #watchRate(options: MtaqServerOptions): void {
    const rate = options.minRate;
    if (!rate || rate.bytesPerSecond <= 0) return;
    this.#rateTimer = setInterval(() => {
      const parser = this._parser as StrictSMTPStream | undefined;
      if (!parser || this._closing) return;
      if (parser.slowerThan(rate.bytesPerSecond, rate.graceMs)) this.#reply(replies.tooSlow(this.name, rate.bytesPerSecond));
    }, Math.min(5000, Math.max(250, rate.graceMs / 4)));
    this.#rateTimer.unref();
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
    // 452 is flow control, not misbehaviour: "too many recipients" / "no room right now" tell a
    // well-behaved client to send the rest later, and a client pipelining many RCPTs gets many
    if (code < 400 || code === 421 || code === 452 || !this._ready || this._closing) return;
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
