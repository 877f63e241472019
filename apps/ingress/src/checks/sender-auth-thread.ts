import { Worker } from 'node:worker_threads';
import type { CheckRequest, WorkerSetup } from './sender-auth-worker.js';
import type { SenderAuthOutcome, SessionFacts } from './sender-auth.js';

type Reply = { id: number; outcome: SenderAuthOutcome } | { id: number; error: string };

interface Pending {
  readonly worker: Worker;
  resolve(outcome: SenderAuthOutcome): void;
  reject(error: Error): void;
}

/** The compiled worker next to this file (tests use the build too: a thread cannot run TypeScript). */
const WORKER = new URL('./sender-auth-worker.js', import.meta.url);
/** Messages waiting for the thread at most; more means it is far behind, and they get temperror at once. */
const MAX_PENDING = 256;
/** After the thread failed to start, how long until it is tried again. */
const RESTART_DELAY_MS = 5000;

/**
 * SPF, DKIM, ARC and DMARC in a worker thread. They cost the ingress about half a millisecond of
 * CPU per message (DKIM above all: mailauth parses the key twice and hashes the message), which on
 * the SMTP event loop halved the rate of a busy ingress; in a thread of their own they use the
 * other core. A thread that dies fails the messages it held (their checks say temperror) and
 * the next message starts a new one.
 */
export class SenderAuthThread {
  readonly #setup: WorkerSetup;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #nextId = 0;
  #closed = false;
  #failedStart = 0;

  constructor(setup: WorkerSetup) {
    this.#setup = setup;
  }

  /** `message` over a SharedArrayBuffer reaches the thread without a copy; any other is copied. */
  run(message: Buffer, facts: SessionFacts, deadline: number): Promise<SenderAuthOutcome> {
    if (this.#closed) return Promise.reject(new Error('sender checks are shut down'));
    if (this.#pending.size >= MAX_PENDING) return Promise.reject(new Error(`sender checks thread busy (${MAX_PENDING} messages waiting)`));
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { worker, resolve, reject });
      const request: CheckRequest = { id, message, facts, deadline };
      worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  #start(): Worker {
    if (Date.now() - this.#failedStart < RESTART_DELAY_MS) throw new Error('sender checks thread could not start; trying again shortly');
    let worker: Worker;
    try {
      worker = new Worker(WORKER, { workerData: this.#setup });
    } catch (error) {
      this.#failedStart = Date.now();
      throw error;
    }
    // the thread never keeps the process alive: shutdown is the ingress's decision
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if ('outcome' in reply) pending.resolve(reply.outcome);
      else pending.reject(new Error(reply.error));
    });
    // 'error' and then 'exit': whichever comes first fails what this thread held, and only that
    const lost = (error: Error): void => {
      if (this.#worker === worker) this.#worker = undefined;
      for (const [id, pending] of this.#pending) {
        if (pending.worker !== worker) continue;
        this.#pending.delete(id);
        pending.reject(error);
      }
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`sender checks thread exited (${code})`)));
    this.#worker = worker;
    return worker;
  }
}
