import type net from 'node:net';
import type tls from 'node:tls';
import { readProxyHeader, ProxyProtocolError } from '@mtaq/net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { socketTimeout, type SMTPConnectionOptions } from 'smtp-server/lib/smtp-connection.js';
import { refuseBareLineEndings, type DataCallback } from './bare-line-endings.js';
import { MtaqConnection } from './connection.js';
import type { MtaqServerOptions } from './options.js';
import { sessionId } from './session-id.js';

type SocketOptions = SMTPConnectionOptions & { id: string };

/**
 * smtp-server's server with our connection ({@link MtaqConnection}), the DATA line-ending check in
 * front of the application's onData, and PROXY v1/v2 headers from `smtp-proxy` peers.
 */
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
   * Any other peer gets what smtp-server's version gives it, a session id in the next turn, with
   * the id from {@link sessionId}.
   */
  override _handleProxy(socket: net.Socket, callback: (err: Error | null, socketOptions?: SocketOptions) => void): void {
    if (!this._expectsProxyHeader(socket)) {
      // what smtp-server's own version does for such a peer, with a cheaper id (smtp/session-id.ts)
      const socketOptions: SocketOptions = { id: sessionId() };
      setImmediate(() => callback(null, socketOptions));
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
