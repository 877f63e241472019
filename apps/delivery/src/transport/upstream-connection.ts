import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** One upstream SMTP connection as the pool sees it: where it goes, from where, in what state. */
export interface UpstreamTarget {
  /** MX (or smarthost) host name: SNI, certificate checks, logs. */
  readonly host: string;
  /** The address actually connected to. */
  readonly address: string;
  readonly port: number;
  /** Local address the socket binds to (reference §7.7). */
  readonly source: string;
  /** EHLO name for that source address. */
  readonly ehlo: string;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  /** `optional` = never STARTTLS, `opportunistic` (default), `required`/`verified` = TLS or fail. */
  readonly security: 'optional' | 'opportunistic' | 'required' | 'verified';
}

export interface Timeouts {
  readonly connect: number;
  readonly greeting: number;
  readonly socket: number;
}

/** A nodemailer error as it reaches us: the SMTP command it failed in and the server's reply. */
export interface UpstreamError extends Error {
  /** Set when we closed the connection ourselves before the final dot (see `send`). */
  aborted?: boolean;
  code?: string;
  command?: string;
  response?: string;
  responseCode?: number;
}

/**
 * nodemailer keeps two facts the result entry needs to itself: the 220 greeting (our `mta`) and
 * the EHLO extensions. Both are internal fields, read through this one narrow view.
 */
interface NodemailerInternals {
  _actionGreeting(this: SMTPConnection, line: string): void;
  _supportedExtensions: string[];
}

/** How long a closing connection waits for the reply to QUIT before it closes the socket itself. */
const QUIT_WAIT_MS = 2000;

/** A live upstream connection with a promise API, counting what it sent. */
export class UpstreamConnection {
  readonly target: UpstreamTarget;
  readonly #connection: SMTPConnection;
  #greeting = '';
  #closed = false;
  readonly #ended: Promise<void>;
  messages = 0;
  dataBytes = 0;
  /** Whether the remote advertised DSN in its EHLO reply. */
  supportsDsn = false;

  private constructor(target: UpstreamTarget, connection: SMTPConnection) {
    this.target = target;
    this.#connection = connection;
    const internals = connection as unknown as NodemailerInternals;
    const onGreeting = internals._actionGreeting;
    const remember = (line: string): void => {
      this.#greeting = line;
    };
    internals._actionGreeting = function (line: string): void {
      remember(line);
      onGreeting.call(this, line);
    };
    this.#ended = new Promise((resolve) => {
      connection.once('end', () => {
        this.#closed = true;
        resolve();
      });
    });
    connection.on('error', () => (this.#closed = true));
  }

  /** Connects, says EHLO, upgrades per `security`, authenticates when asked. */
  static open(target: UpstreamTarget, timeouts: Timeouts): Promise<UpstreamConnection> {
    const connection = new SMTPConnection({
      host: target.address,
      port: target.port,
      localAddress: target.source,
      name: target.ehlo,
      servername: target.host,
      ignoreTLS: target.security === 'optional',
      requireTLS: target.security === 'required' || target.security === 'verified',
      opportunisticTLS: target.security === 'opportunistic',
      tls: { rejectUnauthorized: target.security === 'verified', servername: target.host },
      connectionTimeout: timeouts.connect * 1000,
      greetingTimeout: timeouts.greeting * 1000,
      socketTimeout: timeouts.socket * 1000,
      // MX hosts of a test or a private network live on internal addresses
      allowInternalNetworkInterfaces: true,
      logger: false,
    });
    const upstream = new UpstreamConnection(target, connection);
    return new Promise((resolve, reject) => {
      connection.once('error', (err: Error) => reject(err));
      connection.connect(() => {
        upstream.supportsDsn = (connection as unknown as NodemailerInternals)._supportedExtensions.includes('DSN');
        if (!target.auth) return resolve(upstream);
        connection.login({ user: target.auth.user, pass: target.auth.pass }, (err) => (err ? reject(err) : resolve(upstream)));
      });
    });
  }

  get greeting(): string {
    return this.#greeting;
  }

  get secure(): boolean {
    return this.#connection.secure;
  }

  get usable(): boolean {
    return !this.#closed && !this.#connection.destroyed;
  }

  get bytesWritten(): number {
    const socket = this.#connection._socket;
    return socket ? socket.bytesWritten : 0;
  }

  get cipher(): { name: string; version: string } | undefined {
    const socket = this.#connection._socket as TLSSocket | false | null;
    if (!socket || typeof socket.getCipher !== 'function') return undefined;
    const cipher = socket.getCipher();
    return { name: cipher.name, version: cipher.version };
  }

  /**
   * One transaction: MAIL FROM (+RET/ENVID), RCPT TO (+NOTIFY/ORCPT), DATA. Resolves with the final
   * reply. When `abort` fires before the whole message was handed to the socket, the connection is
   * closed so the server can never see the final dot, and the promise rejects with `aborted` set;
   * once the message is out, the abort is ignored and the reply awaited: the server may have taken
   * the message, and only its reply tells.
   */
  send(envelope: SMTPConnection.Envelope, message: Buffer, abort?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      let handedOver = false;
      let settled = false;
      const source = Readable.from([message], { objectMode: false });
      source.once('end', () => (handedOver = true));
      // nodemailer's close() drops the pending callback, so the abort settles the promise itself
      const onAbort = (): void => {
        if (handedOver || settled) return;
        settled = true;
        this.#closed = true;
        this.#connection.close();
        reject(Object.assign(new Error('transaction aborted before the final dot'), { aborted: true }));
      };
      if (abort?.aborted) return onAbort();
      abort?.addEventListener('abort', onAbort, { once: true });
      this.#connection.send(envelope, source, (err, info) => {
        abort?.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        if (err) return reject(err);
        this.messages++;
        this.dataBytes += message.length;
        resolve(info.response);
      });
    });
  }

  /** RSET after a failed transaction, so the connection can carry the next message. */
  reset(): Promise<void> {
    return new Promise((resolve, reject) => this.#connection.reset((err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    if (this.#closed) {
      if (!this.#connection.destroyed) this.#connection.close();
      return;
    }
    this.#closed = true;
    try {
      this.#connection.quit();
      // a server that does not answer QUIT soon is not waited for: the socket is closed from our side
      const late = setTimeout(() => this.#connection.close(), QUIT_WAIT_MS);
      late.unref();
      void this.#ended.then(() => clearTimeout(late));
    } catch {
      this.#connection.close();
    }
  }

  /** Resolves once the session is over: QUIT answered (or given up on) and our side of the socket closed. */
  closed(): Promise<void> {
    return this.#ended;
  }
}
