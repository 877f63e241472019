import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';

export interface MtaqServerOptions extends SMTPServerOptions {
  /**
   * Milliseconds to hold the 220 greeting for this client. smtp-server hard-codes 100 ms of
   * early-talker detection, which caps a short-lived session at ~10 messages/s; we make it policy.
   */
  greetingDelay(remoteAddress: string): number;
}

/** A reply that already starts with an RFC 3463 code keeps it instead of smtp-server's default. */
const ENHANCED_STATUS = /^[245]\.\d{1,3}\.\d{1,3} /;

/**
 * smtp-server's connection with two policies of ours: the configurable greeting delay, and
 * replies that carry their own enhanced status or span several lines (the DATA reply lists one
 * queue id per recipient).
 */
class MtaqConnection extends SMTPConnection {
  override init(): void {
    this._setListeners(() => {
      const options = this._server.options as MtaqServerOptions;
      if (options.maxClients && this._server.connections.size > options.maxClients) {
        this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
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
    if (typeof data === 'string' && data.includes('\n')) data = data.split(/\r?\n/);
    const first = Array.isArray(data) ? data[0] : data;
    if (typeof first === 'string' && ENHANCED_STATUS.test(first)) {
      // the status is on the first line only; repeat it per line as RFC 2034 asks
      const status = first.slice(0, first.indexOf(' '));
      data = Array.isArray(data) ? data.map((l, i) => (i === 0 ? l : `${status} ${l}`)) : data;
      context = false;
    }
    super.send(code, data, context);
  }
}

export class MtaqSMTPServer extends SMTPServer {
  constructor(options: MtaqServerOptions) {
    super(options);
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new MtaqConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data) => this._onClientConnect(data));
    connection.init();
  }
}
