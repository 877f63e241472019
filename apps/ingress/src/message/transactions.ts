import type { Logger } from '@mtaq/log';
import type { SMTPServerSession } from 'smtp-server';
import { replies, type Reply } from '../smtp/replies.js';

/** What the transaction gate asks of the publisher. */
export interface BrokerState {
  /** Connected and not blocked (memory or disk alarm). */
  readonly available: boolean;
}

/**
 * The message bytes one ingress process holds at once (`smtp-max-inflight`), and the broker's
 * state, both answered at MAIL FROM, before the client sends a body:
 *
 * - broker not connected or blocking publishers → `451 4.3.0` at MAIL FROM;
 * - each transaction reserves its declared `SIZE=` (else a small provisional share) at MAIL FROM;
 *   when the reservation cannot be had → `452 4.3.1`; as DATA arrives the reservation grows with the
 *   bytes actually held (a client may declare less than it sends, or nothing), and a message that
 *   finds no more room is answered `452 4.3.1` after its dot; the reservation is released when the
 *   transaction ends (its DATA answered, a new MAIL FROM, or the session closed);
 * - recipients × size above `smtp-max-inflight` → `452 4.5.3` at RCPT, so a client is never
 *   refused after sending its body.
 */
/** What a transaction without a declared SIZE reserves at MAIL FROM: most mail is smaller. */
const UNDECLARED = 64 * 1024;

export class TransactionGate {
  readonly #limit: number;
  readonly #maxSize: number;
  readonly #broker: BrokerState;
  readonly #log: Logger;
  readonly #held = new Map<SMTPServerSession, number>();
  /** Sessions whose MAIL FROM declared a SIZE: only those have a size to multiply at RCPT. */
  readonly #declared = new Map<SMTPServerSession, number>();
  #used = 0;

  constructor(deps: { limit: number; maxSize: number; broker: BrokerState; logger: Logger }) {
    this.#limit = deps.limit;
    this.#maxSize = deps.maxSize;
    this.#broker = deps.broker;
    this.#log = deps.logger;
  }

  /** Bytes reserved by transactions in progress. */
  get used(): number {
    return this.#used;
  }

  /** MAIL FROM: the broker can take mail, and the declared size (else `smtp-maxsize`) fits. */
  begin(session: SMTPServerSession, declaredSize: number | undefined): Reply | undefined {
    this.end(session);
    if (!this.#broker.available) {
      this.#log.warn({ sid: session.id, remote: session.remoteAddress }, 'message broker unavailable, MAIL FROM answered 451');
      return replies.brokerUnavailable;
    }
    const size = this.#sizeOf(declaredSize);
    if (this.#used + size > this.#limit) {
      this.#log.info({ sid: session.id, remote: session.remoteAddress, size, used: this.#used, limit: this.#limit }, 'smtp-max-inflight reached, MAIL FROM answered 452');
      return replies.insufficientStorage;
    }
    this.#used += size;
    this.#held.set(session, size);
    if (declaredSize !== undefined) this.#declared.set(session, size);
    return undefined;
  }

  /**
   * RCPT TO: one more copy of the message still within `smtp-max-inflight`, by the declared SIZE.
   * Without one the size is unknown (`smtp-maxsize` times the recipients would allow two or three
   * per transaction): nothing is refused then, as copies are encoded one at a time anyway.
   */
  recipient(session: SMTPServerSession): Reply | undefined {
    const size = this.#declared.get(session);
    if (size === undefined) return undefined;
    const accepted = session.envelope.rcptTo.length;
    if (accepted > 0 && (accepted + 1) * size > this.#limit) return replies.tooManyRecipientsForSize(size);
    return undefined;
  }

  /**
   * DATA arriving: the transaction now holds `bytes` of message. The reservation grows to cover
   * them (doubling, so a large message asks a few times, not per chunk); false when
   * `smtp-max-inflight` has no room for them: the message is then not kept, and refused after its dot.
   */
  hold(session: SMTPServerSession, bytes: number): boolean {
    const held = this.#held.get(session);
    if (held === undefined || bytes <= held) return true;
    const room = this.#limit - this.#used;
    if (bytes - held > room) {
      this.#log.info({ sid: session.id, remote: session.remoteAddress, bytes, used: this.#used, limit: this.#limit }, 'smtp-max-inflight reached during DATA, message will be answered 452');
      return false;
    }
    const grown = Math.min(Math.max(bytes, held * 2), held + room, this.#maxSize);
    this.#used += grown - held;
    this.#held.set(session, grown);
    return true;
  }

  /** The transaction ended (DATA answered, RSET followed by MAIL FROM, or the session closed). */
  end(session: SMTPServerSession): void {
    const size = this.#held.get(session);
    if (size === undefined) return;
    this.#held.delete(session);
    this.#declared.delete(session);
    this.#used -= size;
  }

  /**
   * A declared SIZE is reserved as declared. Without one, reserving `smtp-maxsize` (100 MB by
   * default, more than the whole cap) would let one undeclared transaction at a time in, and many
   * clients never declare SIZE (Postfix's smtp-source, scripts); so they start with 64 KB and grow
   * as their DATA arrives ({@link hold}). Clamped to the cap itself, so an `smtp-maxsize` above
   * `smtp-max-inflight` still lets one through.
   */
  #sizeOf(declared: number | undefined): number {
    const size = declared !== undefined && Number.isFinite(declared) && declared > 0 ? Math.min(declared, this.#maxSize) : Math.min(UNDECLARED, this.#maxSize);
    return Math.min(size, this.#limit);
  }
}

/** `MAIL FROM:<a> SIZE=123` → 123 (smtp-server upper-cases the parameter names). */
export function declaredSize(args: unknown): number | undefined {
  const value = (args as Record<string, unknown> | false | undefined) ? (args as Record<string, unknown>)['SIZE'] : undefined;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
