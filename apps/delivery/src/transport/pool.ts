import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { silentLogger, type Logger } from '@mtaq/log';
import { greetingName, kindOfError, parseReply, stateOfError } from './reply.js';
import { UpstreamConnection, type Timeouts, type UpstreamError, type UpstreamTarget } from './upstream-connection.js';
import type { AttemptOutcome } from '../outcome/index.js';

/** A slot that must be given back when the connection it paid for closes. */
export interface Slot {
  release(): void | Promise<void>;
}

/**
 * Grants connection slots: the per-process `smtp-connections-out` cap and the cluster-wide budgets
 * for (source, destination). `tryTake` never waits; the pool retries on its own schedule.
 */
export interface ConnectionGate {
  tryTake(scope: ConnectionScope): Promise<Slot | undefined>;
}

export interface ConnectionScope {
  readonly source: string;
  readonly pool?: string | undefined;
  readonly domain: string;
  /** Domains sharing MX hosts share budgets (reference §7.9). */
  readonly destination: string;
}

export interface SendRequest {
  readonly scope: ConnectionScope;
  /** Hosts in MX order, each with its addresses; the first that answers is used. */
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly port: number; readonly addresses: readonly string[] }>;
  readonly ehlo: string;
  readonly auth?: { readonly user: string; readonly pass: string } | undefined;
  readonly security: UpstreamTarget['security'];
  readonly envelope: SMTPConnection.Envelope;
  readonly message: Buffer;
  readonly guard?: TransactionGuard;
}

/**
 * Lets the caller stop an attempt that has not reached the point of no return. `live()` false means
 * no transaction may start for the message (its AMQP delivery is gone, or the process is stopping).
 * A transaction whose final dot is out is never aborted: only the reply tells whether it was taken.
 */
export interface TransactionGuard {
  live(): boolean;
  /** Any of these fires when `live()` turns false: a message waiting for a connection gives up its place. */
  readonly stopped: readonly AbortSignal[];
  /** Aborts a running transaction before its final dot (the shutdown deadline). */
  readonly abort: AbortSignal;
  /** Runs once a connection is ready, right before the transaction starts (the caller's claim). */
  begin(): Promise<void>;
}

export interface PoolOptions {
  readonly timeouts: Timeouts;
  /** Seconds an idle connection is kept for the next message to the same place. */
  readonly idleTimeout: number;
  /** Messages per connection before it is closed. */
  readonly maxMessages: number;
  readonly gate: ConnectionGate;
  /** How long a message waits for a free slot before being handed back to be parked. */
  readonly maxWait: number;
  readonly logger?: Logger;
}

type Granted = { connection: UpstreamConnection; slot: Slot } | { outcome: AttemptOutcome };

interface Waiter {
  readonly target: UpstreamTarget;
  readonly scope: ConnectionScope;
  give(granted: Granted): void;
  timer: NodeJS.Timeout;
}

interface Idle {
  readonly connection: UpstreamConnection;
  readonly slot: Slot;
  readonly timer: NodeJS.Timeout;
}

/** The caller could not get a connection slot within `maxWait`: park the message, it did not fail. */
export class OverCapacity extends Error {}

/** Nothing was sent: the attempt was stopped before its final dot (shutdown, lost AMQP delivery). */
export class TransactionAborted extends Error {}

/**
 * Upstream connections keyed by (source address, remote address, port), reused for several
 * messages. Opening one needs a slot from the gate; a released connection goes first to a message
 * waiting for the same key, so messages queue on busy connections instead of on idle timers.
 */
export class UpstreamPool {
  readonly #options: PoolOptions;
  readonly #log: Logger;
  readonly #idle = new Map<string, Idle[]>();
  /** Messages waiting for a connection, per key, in arrival order. */
  readonly #lines = new Map<string, Waiter[]>();
  #open = 0;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'upstream' });
  }

  get openConnections(): number {
    return this.#open;
  }

  /** One delivery attempt. Never throws for SMTP reasons: every outcome is a result entry. */
  async send(request: SendRequest): Promise<AttemptOutcome> {
    let last: AttemptOutcome | undefined;
    for (const { host, port, addresses } of request.hosts) {
      for (const address of addresses) {
        const target: UpstreamTarget = {
          host,
          address,
          port,
          source: request.scope.source,
          ehlo: request.ehlo,
          auth: request.auth,
          security: request.security,
        };
        const lease = await this.#connectionFor(target, request.scope, request.guard?.stopped);
        if ('outcome' in lease) {
          last = lease.outcome;
          continue; // this address did not answer: the next MX address may
        }
        if (request.guard) {
          try {
            if (request.guard.live()) await request.guard.begin();
          } catch (err) {
            this.#release(lease.connection, lease.slot);
            throw err;
          }
          if (!request.guard.live()) {
            this.#release(lease.connection, lease.slot);
            throw new TransactionAborted('no transaction started: the message is no longer ours to send');
          }
        }
        return this.#transact(lease.connection, lease.slot, request);
      }
    }
    return last ?? { state: 'dns', result: 'error', description: 'no mail host addresses to connect to' };
  }

  /** Closes idle connections; busy ones close when their transaction ends. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) for (const idle of list) this.#discard(idle.connection, idle.slot, idle.timer);
    this.#idle.clear();
  }

  /**
   * An idle connection, a new one if the gate grants a slot, or a place in line for the key. Only
   * the head of a line polls the gate; everyone else waits for a connection handed over by
   * `#release`, so a thousand waiting messages cost one budget check per tick, not a thousand.
   */
  #connectionFor(target: UpstreamTarget, scope: ConnectionScope, signals: readonly AbortSignal[] = []): Promise<Granted> {
    const key = keyOf(target);
    const idle = this.#takeIdle(key);
    if (idle) return Promise.resolve(idle);
    const line = this.#lines.get(key);
    if (!line?.length) {
      return this.#tryOpen(target, scope).then((granted) => granted ?? this.#wait(key, target, scope, signals));
    }
    return this.#wait(key, target, scope, signals);
  }

  #wait(key: string, target: UpstreamTarget, scope: ConnectionScope, signals: readonly AbortSignal[]): Promise<Granted> {
    return new Promise<Granted>((resolve, reject) => {
      let line = this.#lines.get(key);
      if (!line) this.#lines.set(key, (line = []));
      const leave = (error: Error): void => {
        clearTimeout(waiter.timer);
        for (const signal of signals) signal.removeEventListener('abort', onAbort);
        const i = line.indexOf(waiter);
        if (i >= 0) line.splice(i, 1);
        reject(error);
      };
      const onAbort = (): void => leave(new TransactionAborted('stopped while waiting for a connection'));
      const waiter: Waiter = {
        target,
        scope,
        give: (granted) => {
          clearTimeout(waiter.timer);
          for (const signal of signals) signal.removeEventListener('abort', onAbort);
          resolve(granted);
        },
        timer: setTimeout(
          () => leave(new OverCapacity(`no connection slot for ${scope.destination} within ${this.#options.maxWait}s`)),
          this.#options.maxWait * 1000,
        ),
      };
      if (signals.some((signal) => signal.aborted)) return onAbort();
      for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
      line.push(waiter);
      if (line.length === 1) void this.#poll(key, line);
    });
  }

  /** Asks the gate for a slot on behalf of the head of the line until the line is empty. */
  async #poll(key: string, line: Waiter[]): Promise<void> {
    while (line.length > 0) {
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      const head = line[0];
      if (!head) break;
      const granted = await this.#tryOpen(head.target, head.scope);
      if (granted && line[0] === head) {
        line.shift();
        head.give(granted);
      } else if (granted) {
        this.#recycle(granted); // the head left meanwhile (timed out): someone else may use it
      }
    }
    if (this.#lines.get(key) === line) this.#lines.delete(key);
  }

  /** A new connection if the gate has a slot; a failed connect is an outcome for the caller. */
  async #tryOpen(target: UpstreamTarget, scope: ConnectionScope): Promise<Granted | undefined> {
    const slot = await this.#options.gate.tryTake(scope);
    if (!slot) return undefined;
    this.#open++;
    try {
      return { connection: await UpstreamConnection.open(target, this.#options.timeouts), slot };
    } catch (err) {
      this.#open--;
      await slot.release();
      return { outcome: this.#failure(err as UpstreamError, target, undefined) };
    }
  }

  #recycle(granted: Granted): void {
    if ('connection' in granted) this.#release(granted.connection, granted.slot);
  }

  async #transact(connection: UpstreamConnection, slot: Slot, request: SendRequest): Promise<AttemptOutcome> {
    try {
      const response = await connection.send(request.envelope, request.message, request.guard?.abort);
      const reply = parseReply(response);
      const outcome: AttemptOutcome = {
        state: 'message',
        result: 'accepted',
        ...reply,
        ...this.#connectionFacts(connection),
        dsn: connection.supportsDsn,
      };
      this.#release(connection, slot);
      return outcome;
    } catch (err) {
      const e = err as UpstreamError;
      if (e.aborted) {
        this.#discard(connection, slot);
        throw new TransactionAborted(e.message);
      }
      const outcome = this.#failure(e, connection.target, connection);
      // a refused transaction leaves a healthy session behind: RSET and reuse it
      if (e.responseCode && e.responseCode !== 421 && connection.usable) {
        try {
          await connection.reset();
          this.#release(connection, slot);
          return outcome;
        } catch {
          // fall through: the session is not reusable
        }
      }
      this.#discard(connection, slot);
      return outcome;
    }
  }

  #failure(err: UpstreamError, target: UpstreamTarget, connection: UpstreamConnection | undefined): AttemptOutcome {
    const reply = parseReply(err.response);
    const greeted = Boolean(connection?.greeting);
    return {
      state: stateOfError(err, greeted),
      result: kindOfError(err),
      ...(reply.code ? reply : { description: err.message }),
      from: target.source,
      to: target.address,
      ...(connection ? this.#connectionFacts(connection) : {}),
    };
  }

  #connectionFacts(connection: UpstreamConnection): Partial<AttemptOutcome> {
    const mta = greetingName(connection.greeting);
    const cipher = connection.cipher;
    return {
      ...(mta ? { mta } : {}),
      from: connection.target.source,
      to: connection.target.address,
      messages: connection.messages,
      sent: { connection: connection.bytesWritten, data: connection.dataBytes },
      ...(cipher ? { cipher } : {}),
    };
  }

  #takeIdle(key: string): { connection: UpstreamConnection; slot: Slot } | undefined {
    const list = this.#idle.get(key);
    while (list?.length) {
      const idle = list.pop()!;
      clearTimeout(idle.timer);
      if (idle.connection.usable) return { connection: idle.connection, slot: idle.slot };
      this.#discard(idle.connection, idle.slot);
    }
    return undefined;
  }

  #release(connection: UpstreamConnection, slot: Slot): void {
    if (this.#closed || !connection.usable || connection.messages >= this.#options.maxMessages) {
      this.#discard(connection, slot);
      return;
    }
    const key = keyOf(connection.target);
    const next = this.#lines.get(key)?.shift();
    if (next) {
      next.give({ connection, slot }); // straight to the next message: no idle round trip
      return;
    }
    const idle: Idle = {
      connection,
      slot,
      timer: setTimeout(() => {
        const list = this.#idle.get(key);
        const i = list?.indexOf(idle) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
        this.#discard(connection, slot);
      }, this.#options.idleTimeout * 1000),
    };
    idle.timer.unref();
    const list = this.#idle.get(key);
    if (list) list.push(idle);
    else this.#idle.set(key, [idle]);
  }

  #discard(connection: UpstreamConnection, slot: Slot, timer?: NodeJS.Timeout): void {
    clearTimeout(timer);
    connection.close();
    this.#open--;
    void Promise.resolve(slot.release()).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'slot release failed'));
  }
}

/** Connections are interchangeable only with the same source, peer, login and TLS policy. */
function keyOf(target: UpstreamTarget): string {
  return `${target.source}|${target.address}|${target.port}|${target.auth?.user ?? ''}|${target.security}`;
}
