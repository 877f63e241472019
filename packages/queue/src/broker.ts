import { EventEmitter } from 'node:events';
import { connect, type ChannelModel } from 'amqplib';
import { silentLogger, type Logger } from '@mtaq/log';

export interface BrokerOptions {
  /** One URL per broker node; connections rotate through them (reference I4). */
  readonly urls: readonly string[];
  readonly logger?: Logger;
  /** First reconnect delay in seconds; doubles per failed attempt up to `maxReconnectDelay`. */
  readonly reconnectDelay?: number;
  readonly maxReconnectDelay?: number;
  /** AMQP heartbeat in seconds: how fast a silently dead broker is noticed. */
  readonly heartbeat?: number;
  /** Shown in the RabbitMQ management UI. */
  readonly connectionName?: string;
  /**
   * Runs on every fresh connection before it is announced, e.g. to declare the topology. If it
   * fails on the first connection, `start()` rejects: a topology mismatch is a start-up error.
   */
  readonly setup?: (connection: ChannelModel) => Promise<void>;
}

export interface BrokerEvents {
  connected: [connection: ChannelModel];
  disconnected: [error: Error | undefined];
}

/**
 * One AMQP connection kept alive across broker restarts. Channels are owned by the publishers and
 * consumers, which listen for `connected` to (re)open theirs; the broker only owns the socket.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  readonly #options: BrokerOptions;
  readonly #log: Logger;
  #connection: ChannelModel | undefined;
  #node = 0;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #blocked = false;

  constructor(options: BrokerOptions) {
    super();
    if (options.urls.length === 0) throw new Error('rabbitmq-address names no broker');
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'broker' });
  }

  get connection(): ChannelModel | undefined {
    return this.#connection;
  }

  get isConnected(): boolean {
    return this.#connection !== undefined;
  }

  /** The broker sent connection.blocked (memory or disk alarm): publishes would not be read. */
  get isBlocked(): boolean {
    return this.#blocked;
  }

  /**
   * Connects once. Resolves when connected, or when the broker cannot be reached (it then keeps
   * retrying in the background, so a process can start while RabbitMQ is still booting). Rejects
   * only when the broker answered but `setup` failed, e.g. an existing queue with other arguments.
   */
  async start(): Promise<void> {
    const url = this.#options.urls[this.#node % this.#options.urls.length]!;
    const error = await this.#connectOnce();
    if (error === undefined) return;
    if (error instanceof SetupError) throw error.cause;
    // a wrong user or password does not mend itself: a start-up error, not a retry loop
    if (isLoginRefused(error)) throw new BrokerLoginError(url, error);
    this.#scheduleReconnect(error);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#timer);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await connection.close().catch(() => undefined);
  }

  async #connectOnce(): Promise<Error | undefined> {
    const urls = this.#options.urls;
    const url = urls[this.#node % urls.length]!;
    this.#node++;
    let connection: ChannelModel;
    try {
      connection = await connect(url, {
        heartbeat: this.#options.heartbeat ?? 10,
        clientProperties: { connection_name: this.#options.connectionName ?? 'mtaq' },
      } as Parameters<typeof connect>[1]);
    } catch (err) {
      return err as Error;
    }
    try {
      await this.#options.setup?.(connection);
    } catch (err) {
      await connection.close().catch(() => undefined);
      return new SetupError(err as Error);
    }
    if (this.#closing) {
      await connection.close().catch(() => undefined);
      return undefined;
    }
    this.#attempt = 0;
    this.#blocked = false;
    this.#connection = connection;
    connection.on('error', (err: Error) => this.#log.warn({ err: err.message }, 'broker connection error'));
    connection.on('close', (err?: Error) => this.#onClose(connection, err));
    connection.on('blocked', (reason: string) => {
      if (this.#connection === connection) this.#blocked = true;
      this.#log.warn({ reason }, 'broker blocked publishing');
    });
    connection.on('unblocked', () => {
      if (this.#connection === connection) this.#blocked = false;
      this.#log.info('broker unblocked publishing');
    });
    this.#log.info({ node: redactUrl(url) }, 'connected to broker');
    this.emit('connected', connection);
    return undefined;
  }

  #onClose(connection: ChannelModel, err: Error | undefined): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#blocked = false;
    this.emit('disconnected', err);
    if (!this.#closing) this.#scheduleReconnect(err ?? new Error('connection closed'));
  }

  #scheduleReconnect(error: Error): void {
    if (this.#closing) return;
    const base = this.#options.reconnectDelay ?? 1;
    const max = this.#options.maxReconnectDelay ?? 30;
    const delay = Math.min(max, base * 2 ** Math.min(this.#attempt, 16));
    this.#attempt++;
    if (isLoginRefused(error)) {
      // the password changed under a running process: keep trying, an operator has to act
      this.#log.error({ err: error.message, retryIn: delay }, 'broker refused the login (check rabbitmq-address), reconnecting');
    } else {
      this.#log.error({ err: error.message, retryIn: delay }, 'broker unavailable, reconnecting');
    }
    this.#timer = setTimeout(() => {
      void this.#connectOnce().then((err) => {
        if (err !== undefined) this.#scheduleReconnect(err instanceof SetupError ? err.cause : err);
      });
    }, delay * 1000);
  }
}

/** amqplib's error for a refused login: `403 (ACCESS-REFUSED)` in the handshake. */
function isLoginRefused(error: Error): boolean {
  return /ACCESS[-_]REFUSED/.test(error.message);
}

/** The broker refused the user or password of `rabbitmq-address` on the first connection. */
export class BrokerLoginError extends Error {
  /** The URL that was refused (with its password: mask it before showing). */
  readonly url: string;
  override readonly cause: Error;
  constructor(url: string, cause: Error) {
    super(`RabbitMQ at ${redactUrl(url)} refused the login; check rabbitmq-address`);
    this.url = url;
    this.cause = cause;
  }
}

class SetupError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(cause.message);
    this.cause = cause;
  }
}

/** `amqp://user:secret@host/` → `amqp://user:***@host/`, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
