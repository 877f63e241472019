import { EventEmitter } from 'node:events';
import { connect, type ChannelModel } from 'amqplib';
import { silentLogger, type Logger } from '@mtaq/log';

export interface BrokerOptions {
  /**
   * One URL per broker node (reference I4). The first that answers is used; when its connection
   * drops, the others are tried at once, starting with the next, before any reconnect delay.
   */
  readonly urls: readonly string[];
  readonly logger?: Logger;
  /** First reconnect delay in seconds; doubles per failed attempt up to `maxReconnectDelay`. */
  readonly reconnectDelay?: number;
  readonly maxReconnectDelay?: number;
  /**
   * Seconds one node may take to accept the connection and finish the AMQP handshake (default 5): an
   * address that swallows packets must not hold up the nodes after it.
   */
  readonly connectTimeout?: number;
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
  /** When the current connection was made (epoch ms). */
  #connectedAt = 0;
  /** When a dropped connection last failed over at once (epoch ms): at most one such round per STABLE_MS. */
  #lastFailover = 0;
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
   * Tries every node once, in order. Resolves when connected, or when no node can be reached (it
   * then keeps retrying in the background, so a process can start while RabbitMQ is still booting).
   * Rejects only when a node answered but refused the login, or `setup` failed, e.g. an existing
   * queue with other arguments.
   */
  async start(): Promise<void> {
    const error = await this.#connectRound(true);
    if (error === undefined) return;
    if (error instanceof SetupError) throw error.cause;
    // a wrong user or password does not mend itself: a start-up error, not a retry loop
    if (error instanceof BrokerLoginError) throw error;
    this.#scheduleReconnect(error);
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#timer);
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) await connection.close().catch(() => undefined);
  }

  /**
   * One try at each node, starting with the one after the last tried; the last error, or undefined
   * once connected. At start-up a refused login or a failed setup ends the round (they are the
   * operator's to fix); later a node that fails either is passed over for the next.
   */
  async #connectRound(starting: boolean): Promise<Error | undefined> {
    let last: Error | undefined;
    for (let i = 0; i < this.#options.urls.length && !this.#closing; i++) {
      const url = this.#options.urls[this.#node % this.#options.urls.length]!;
      const error = await this.#connectOnce();
      if (error === undefined) return undefined;
      last = isLoginRefused(error) && starting ? new BrokerLoginError(url, error) : error;
      if (starting && (error instanceof SetupError || isLoginRefused(error))) return last;
      if (this.#options.urls.length > 1) this.#log.warn({ node: redactUrl(url), err: (error instanceof SetupError ? error.cause : error).message }, 'broker node unavailable, trying the next');
    }
    return last;
  }

  async #connectOnce(): Promise<Error | undefined> {
    const urls = this.#options.urls;
    const url = urls[this.#node % urls.length]!;
    this.#node++;
    let connection: ChannelModel;
    try {
      connection = await connect(url, {
        timeout: (this.#options.connectTimeout ?? 5) * 1000,
        heartbeat: this.#options.heartbeat ?? 10,
        clientProperties: { connection_name: this.#options.connectionName ?? 'mtaq' },
      } as Parameters<typeof connect>[1]);
    } catch (err) {
      return err as Error;
    }
    corkFrames(connection);
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
    // the node after this one is tried first when this connection drops
    this.#node = urls.indexOf(url) + 1;
    this.#connectedAt = Date.now();
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
    // A dropped connection fails over to the other nodes at once, but only once per STABLE_MS: a
    // node that accepts and then closes at once must not turn this into a busy loop; it goes on with
    // the growing delay, which only a connection that lived a while resets.
    const now = Date.now();
    if (now - this.#connectedAt >= STABLE_MS) this.#attempt = 0;
    const immediate = now - this.#lastFailover >= STABLE_MS;
    this.emit('disconnected', err);
    if (this.#closing) return;
    this.#log.warn({ err: err?.message }, 'broker connection lost');
    if (immediate) {
      this.#lastFailover = now;
      void this.#reconnectRound();
    } else {
      this.#scheduleReconnect(err ?? new Error('connection closed'));
    }
  }

  async #reconnectRound(): Promise<void> {
    const error = await this.#connectRound(false);
    if (error !== undefined) this.#scheduleReconnect(error instanceof SetupError ? error.cause : error);
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
    this.#timer = setTimeout(() => void this.#reconnectRound(), delay * 1000);
  }
}

/** A connection younger than this (ms) that drops does not reset the reconnect backoff. */
const STABLE_MS = 5000;

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

/**
 * amqplib's multiplexer moves the frames of every channel to the socket in rounds (one per
 * setImmediate) but writes each frame on its own: a system call for every ack, every publish. Corked
 * for the round, the frames of a round (acks and publishes of many messages) leave in one writev.
 * Only the socket write is batched: frames keep their order, and the round ends as before when the
 * socket is full ('drain' resumes it). A connection without the expected internals is left alone
 * (false). These are amqplib's private members: amqplib is pinned (packages/queue/package.json) and
 * packages/queue/test/cork-frames.test.ts fails when an upgrade changes them.
 */
export function corkFrames(model: ChannelModel): boolean {
  const muxer = (model as unknown as { connection?: { muxer?: { _readIncoming?: () => void; out?: { cork?: () => void; uncork?: () => void } } } })
    .connection?.muxer;
  const read = muxer?._readIncoming;
  if (!muxer || typeof read !== 'function' || typeof muxer.out?.cork !== 'function' || typeof muxer.out.uncork !== 'function') return false;
  if ((read as { corked?: boolean }).corked) return true;
  const corked = function (this: typeof muxer) {
    const out = this.out!;
    out.cork!();
    try {
      read.call(this);
    } finally {
      out.uncork!();
    }
  };
  (corked as { corked?: boolean }).corked = true;
  muxer._readIncoming = corked;
  return true;
}
