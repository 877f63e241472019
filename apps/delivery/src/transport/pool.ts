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
  /**
   * Called while the message is next in line for a connection whose transaction is under way: it
   * may start what `begin` does, so that the connection, once handed over, does not wait for it.
   */
  prepare?(): void;
  /**
   * Runs once the upstream accepted the message, before the connection sends anything else: the
   * caller makes the outcome durable (its claim). The next transaction's first command tells the
   * upstream that this 250 was read, so a crash after it must find the outcome recorded, or the
   * redelivery would send an accepted message again.
   */
  settle?(outcome: AttemptOutcome): Promise<void>;
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
  readonly guard: TransactionGuard | undefined;
  /** `guard.prepare` was called. */
  prepared: boolean;
  give(granted: Granted): void;
  timer: NodeJS.Timeout;
}

/**
 * Messages waiting for a connection to one key, in arrival order, and the connections being opened
 * for them (`opening`): each open in flight is meant for one waiter, so the line asks the gate only
 * for as many slots as it has waiters without one on the way.
 */
interface Line {
  readonly key: string;
  readonly waiters: Waiter[];
  opening: number;
  /** A fill (gate requests, one after the other) is running. */
  filling: boolean;
  /** Something freed a slot during the fill: look again when it ends. */
  again: boolean;
  /** The fallback poll for slots freed by other processes (their release tells us nothing). */
  poll: NodeJS.Timeout | undefined;
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

/** How often a line whose gate said no looks again for slots freed by other processes. */
const POLL_MS = 50;
const POLL_JITTER_MS = 100;

/**
 * Upstream connections keyed by (source address, remote address, port), reused for several
 * messages. Opening one needs a slot from the gate; a released connection goes first to a message
 * waiting for the same key, so messages queue on busy connections instead of on idle timers.
 *
 * Waiting is event-driven: a connection that reaches `maxMessages` (or breaks) while messages wait
 * for its key keeps its slot and hands it to its replacement as soon as it has closed (no budget
 * round trip, no wait); a slot this process gives back wakes every line at once. Only slots freed
 * by other processes are found by polling, which is all the gate can tell.
 */
export class UpstreamPool {
  readonly #options: PoolOptions;
  readonly #log: Logger;
  readonly #idle = new Map<string, Idle[]>();
  /** Messages waiting for a connection, per key. */
  readonly #lines = new Map<string, Line>();
  /**
   * One listener per abort signal, however many waiters it stops: the signals are shared (the
   * consumer channel, the process stopping), and EventTarget's add and remove walk every listener.
   */
  readonly #watched = new Map<AbortSignal, { readonly leave: Set<() => void>; readonly listener: () => void }>();
  /** Per connection, the result entry's facts that stay the same for all its transactions. */
  readonly #sessions = new WeakMap<UpstreamConnection, Partial<AttemptOutcome>>();
  #open = 0;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#log = (options.logger ?? silentLogger).child({ component: 'upstream' });
  }

  get openConnections(): number {
    return this.#open;
  }

  /** Messages queued for a connection (all destinations): prefetched, but not being worked on. */
  get waiting(): number {
    let count = 0;
    for (const line of this.#lines.values()) count += line.waiters.length;
    return count;
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
        const lease = await this.#connectionFor(target, request.scope, request.guard);
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
    for (const line of this.#lines.values()) clearTimeout(line.poll);
  }

  /** An idle connection, else a place in line for the key (which asks the gate for a slot at once). */
  #connectionFor(target: UpstreamTarget, scope: ConnectionScope, guard: TransactionGuard | undefined): Promise<Granted> {
    const key = keyOf(target);
    const idle = this.#takeIdle(key);
    if (idle) return Promise.resolve(idle);
    return this.#wait(key, target, scope, guard);
  }

  #wait(key: string, target: UpstreamTarget, scope: ConnectionScope, guard: TransactionGuard | undefined): Promise<Granted> {
    const signals = guard?.stopped ?? [];
    return new Promise<Granted>((resolve, reject) => {
      if (signals.some((signal) => signal.aborted)) {
        reject(new TransactionAborted('stopped while waiting for a connection'));
        return;
      }
      let line = this.#lines.get(key);
      if (!line) this.#lines.set(key, (line = { key, waiters: [], opening: 0, filling: false, again: false, poll: undefined }));
      const waiters = line.waiters;
      const unwatch = (): void => {
        for (const signal of signals) this.#unwatch(signal, onAbort);
      };
      const leave = (error: Error): void => {
        clearTimeout(waiter.timer);
        unwatch();
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        this.#forget(line);
        reject(error);
      };
      const onAbort = (): void => leave(new TransactionAborted('stopped while waiting for a connection'));
      const waiter: Waiter = {
        target,
        scope,
        guard,
        prepared: false,
        give: (granted) => {
          clearTimeout(waiter.timer);
          unwatch();
          resolve(granted);
        },
        timer: setTimeout(
          () => leave(new OverCapacity(`no connection slot for ${scope.destination} within ${this.#options.maxWait}s`)),
          this.#options.maxWait * 1000,
        ),
      };
      for (const signal of signals) this.#watch(signal, onAbort);
      waiters.push(waiter);
      // after a no from the gate, newcomers wait for a wake-up or the poll instead of asking again each
      if (line.poll === undefined) this.#fill(line);
    });
  }

  #watch(signal: AbortSignal, onAbort: () => void): void {
    let watched = this.#watched.get(signal);
    if (!watched) {
      const leave = new Set<() => void>();
      const listener = (): void => {
        this.#watched.delete(signal);
        for (const f of [...leave]) f();
      };
      watched = { leave, listener };
      this.#watched.set(signal, watched);
      signal.addEventListener('abort', listener, { once: true });
    }
    watched.leave.add(onAbort);
  }

  #unwatch(signal: AbortSignal, onAbort: () => void): void {
    const watched = this.#watched.get(signal);
    if (!watched) return;
    watched.leave.delete(onAbort);
    if (watched.leave.size === 0) {
      this.#watched.delete(signal);
      signal.removeEventListener('abort', watched.listener);
    }
  }

  /** Waiters of the line that no connection is being opened for yet. */
  #demand(line: Line): number {
    return line.waiters.length - line.opening;
  }

  /**
   * Asks the gate for a slot for every waiter without a connection on its way, one request at a
   * time, opening a connection as each is granted (the connects run side by side). When the gate
   * says no, a local release wakes the line again; the poll covers releases of other processes.
   */
  #fill(line: Line): void {
    if (line.filling) {
      line.again = true;
      return;
    }
    if (this.#demand(line) <= 0 || this.#closed) {
      this.#forget(line);
      return;
    }
    line.filling = true;
    clearTimeout(line.poll);
    line.poll = undefined;
    void (async () => {
      let denied = false;
      try {
        do {
          line.again = false;
          while (this.#demand(line) > 0 && !this.#closed) {
            const head = line.waiters[line.opening]!;
            line.opening++;
            let slot: Slot | undefined;
            try {
              slot = await this.#options.gate.tryTake(head.scope);
            } catch (err) {
              this.#log.warn({ err: (err as Error).message }, 'connection gate failed');
            }
            if (!slot) {
              line.opening--;
              denied = true;
              break;
            }
            denied = false;
            void this.#openFor(line, head.target, slot);
          }
        } while (line.again && this.#demand(line) > 0 && !this.#closed);
      } finally {
        line.filling = false;
      }
      if (denied && this.#demand(line) > 0 && !this.#closed) {
        line.poll = setTimeout(() => {
          line.poll = undefined;
          this.#fill(line);
        }, POLL_MS + Math.random() * POLL_JITTER_MS);
      }
      this.#forget(line);
    })();
  }

  /** Every line with demand looks again now: this process just gave a slot back. */
  #wakeAll(): void {
    for (const line of this.#lines.values()) if (this.#demand(line) > 0) this.#fill(line);
  }

  /** A line with nobody waiting and nothing opening is dropped. */
  #forget(line: Line): void {
    if (line.waiters.length === 0 && line.opening === 0 && !line.filling && this.#lines.get(line.key) === line) {
      clearTimeout(line.poll);
      this.#lines.delete(line.key);
    }
  }

  /**
   * Opens a connection with `slot` (already counted in `line.opening`) and gives it to the first
   * waiter; a failed connect is that waiter's outcome (it may try the next MX address). Nobody left
   * waiting: the connection goes idle, for the next message to the key.
   */
  async #openFor(line: Line, target: UpstreamTarget, slot: Slot): Promise<void> {
    let granted: Granted;
    this.#open++;
    try {
      granted = { connection: await UpstreamConnection.open(target, this.#options.timeouts), slot };
    } catch (err) {
      this.#open--;
      await Promise.resolve(slot.release()).catch((e: unknown) => this.#log.warn({ err: (e as Error).message }, 'slot release failed'));
      granted = { outcome: this.#failure(err as UpstreamError, target, undefined) };
      this.#wakeAll();
    }
    line.opening--;
    const head = line.waiters.shift();
    if (head) head.give(granted);
    else if ('connection' in granted) this.#release(granted.connection, granted.slot);
    // a waiter whose open failed while others wait: their own opens are asked for again
    if (this.#demand(line) > 0) this.#fill(line);
    this.#forget(line);
  }

  async #transact(connection: UpstreamConnection, slot: Slot, request: SendRequest): Promise<AttemptOutcome> {
    try {
      const response = await connection.send(request.envelope, request.message, request.guard?.abort);
      // the next message in line gets ready now, beside this one's settle: its claim and this
      // outcome reach Redis in one call, and the connection, once settled, goes to it at once
      this.#prepareNext(keyOf(connection.target));
      const reply = parseReply(response);
      const outcome: AttemptOutcome = {
        state: 'message',
        result: 'accepted',
        ...reply,
        ...this.#connectionFacts(connection),
        dsn: connection.supportsDsn,
      };
      if (request.guard?.settle) {
        await request.guard.settle(outcome).catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'recording the outcome before the next transaction failed'));
      }
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
        this.#prepareNext(keyOf(connection.target));
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
    // the greeting's name and the cipher are the session's: read once, not for every message
    let session = this.#sessions.get(connection);
    if (session === undefined) {
      const mta = greetingName(connection.greeting);
      const cipher = connection.cipher;
      session = { ...(mta ? { mta } : {}), from: connection.target.source, to: connection.target.address, ...(cipher ? { cipher } : {}) };
      this.#sessions.set(connection, session);
    }
    return { ...session, messages: connection.messages, sent: { connection: connection.bytesWritten, data: connection.dataBytes } };
  }

  /**
   * One more waiter of the key's line (the first not yet prepared) gets ready while this transaction
   * finishes: each transaction prepares the message it will most likely be handed to.
   */
  #prepareNext(key: string): void {
    const line = this.#lines.get(key);
    if (!line) return;
    for (const waiter of line.waiters) {
      if (waiter.prepared) continue;
      waiter.prepared = true;
      waiter.guard?.prepare?.();
      return;
    }
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
    const line = this.#lines.get(key);
    // straight to the next message: no idle round trip (a connection still opening for it goes to
    // the one after, or idle)
    const next = line?.waiters.shift();
    if (next) {
      next.give({ connection, slot });
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

  /**
   * Closes a connection. When messages wait for its key, its slot is not given back: it pays for the
   * replacement, opened once this connection has closed (so the two are never open together).
   */
  #discard(connection: UpstreamConnection, slot: Slot, timer?: NodeJS.Timeout): void {
    clearTimeout(timer);
    const line = this.#closed ? undefined : this.#lines.get(keyOf(connection.target));
    if (line && this.#demand(line) > 0) {
      line.opening++;
      void connection.closed().then(() => {
        this.#open--;
        if (this.#closed) {
          line.opening--;
          this.#giveBack(slot);
          return;
        }
        return this.#openFor(line, connection.target, slot);
      });
      connection.close();
      return;
    }
    connection.close();
    this.#open--;
    this.#giveBack(slot);
  }

  #giveBack(slot: Slot): void {
    void Promise.resolve(slot.release())
      .catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, 'slot release failed'))
      .then(() => this.#wakeAll());
  }
}

/** Connections are interchangeable only with the same source, peer, login and TLS policy. */
function keyOf(target: UpstreamTarget): string {
  return `${target.source}|${target.address}|${target.port}|${target.auth?.user ?? ''}|${target.security}`;
}
