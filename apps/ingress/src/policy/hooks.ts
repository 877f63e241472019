import type { Config } from '@mtaq/config';
import { isValidMailbox } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import type { TransactionGate } from '../message/transactions.js';
import { after, type MaybePromise } from '../smtp/callbacks.js';
import { replies, type Reply } from '../smtp/replies.js';
import type { AccessPolicy } from './access-policy.js';
import type { AuthDecision, Authenticator } from './authenticator.js';
import { ConnectionLimits } from './connection-limits.js';

/** The access checks the hooks run; each may answer at once or after asking something remote. */
export interface AccessChecks {
  connect(ip: string): MaybePromise<Reply | undefined>;
  mailFrom(address: string): MaybePromise<Reply | undefined>;
  rcptTo(address: string, client: Parameters<AccessPolicy['rcptTo']>[1]): MaybePromise<Reply | undefined>;
}

/**
 * The policy checks of one SMTP session, one per stage, in the order reference §8 gives them.
 * Each answers with a refusal from the reply catalogue (or undefined to go on), at once when no
 * check needs I/O (the configured lists are in memory: no promise, no microtask per command), or
 * as a promise when one has to ask Redis or DNS; smtp-server's callbacks take both (smtp/callbacks.ts).
 */
export class PolicyHooks {
  readonly #config: Config;
  readonly #access: AccessChecks;
  readonly #auth: Authenticator;
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  /** Broker state and `smtp-max-inflight`, answered at MAIL FROM / RCPT TO (message/transactions.ts). */
  readonly #transactions: TransactionGate | undefined;
  /** Sessions counted in by the connection limits, with the address they were counted under. */
  readonly #admitted = new WeakMap<SMTPServerSession, string>();
  /** Sessions whose client left, so one still being checked is not counted in afterwards. */
  readonly #gone = new WeakSet<SMTPServerSession>();

  constructor(deps: { config: Config; access: AccessChecks; authenticator: Authenticator; logger: Logger; transactions?: TransactionGate }) {
    this.#transactions = deps.transactions;
    this.#config = deps.config;
    this.#access = deps.access;
    this.#auth = deps.authenticator;
    this.#limits = new ConnectionLimits(deps.config['smtp-connections-per-ip'], deps.config['smtp-connection-rate-per-ip']);
    this.#log = deps.logger;
  }

  /** Reference §8.1 steps 3–4: block-list and relay policy, then the per-client connection caps. */
  connect(session: SMTPServerSession): MaybePromise<Reply | undefined> {
    const ip = session.remoteAddress;
    return after(this.#access.connect(ip), (blocked) => {
      // a client that left while a slow check ran is not counted in
      if (!blocked && this.#gone.has(session)) return undefined;
      const refusal = blocked ?? this.#limits.enter(ip);
      if (refusal) {
        this.#log.info({ sid: session.id, remote: ip, reason: refusal.text }, 'connection refused');
        return refusal;
      }
      this.#admitted.set(session, ip);
      return undefined;
    });
  }

  /** The session ended: its place under the connection limits is free again. */
  closed(session: SMTPServerSession): void {
    this.#gone.add(session);
    this.#transactions?.end(session);
    const ip = this.#admitted.get(session);
    if (ip === undefined) return;
    this.#admitted.delete(session);
    this.#limits.leave(ip);
  }

  /** Reference §8.2: the failed-login throttle, then the AUTH backends. */
  authenticate(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<AuthDecision> {
    return this.#auth.authenticate(auth, session, () => this.#gone.has(session));
  }

  /**
   * Reference §8.3: `smtp-validate-address`, then `smtp-sender-allow`; then whether the broker can
   * take mail (451 4.3.0) and `smtp-max-inflight` has room for the declared size (452 4.3.1).
   */
  mailFrom(address: string, session: SMTPServerSession, declaredSize?: number): MaybePromise<Reply | undefined> {
    this.#transactions?.end(session);
    const invalid = this.#checkAddress(address, 'sender', true);
    if (invalid) return invalid;
    return after(this.#access.mailFrom(address), (refusal) => refusal ?? this.#transactions?.begin(session, declaredSize));
  }

  /** Reference §8.3: `smtp-validate-address`, `smtp-recipient-deny`, then the relay rule. */
  rcptTo(address: string, session: SMTPServerSession): MaybePromise<Reply | undefined> {
    const refused = (refusal: Reply | undefined): Reply | undefined => {
      if (refusal) this.#log.info({ sid: session.id, remote: session.remoteAddress, rcpt: address, reason: refusal.text }, 'recipient refused');
      return refusal;
    };
    const invalid = this.#checkAddress(address, 'recipient', false);
    if (invalid) return refused(invalid);
    return after(this.#access.rcptTo(address, session), (refusal) => refused(refusal ?? this.#transactions?.recipient(session)));
  }

  /** `smtp-validate-address` (reference §8.3); the null sender `<>` is always allowed. */
  #checkAddress(address: string, role: 'sender' | 'recipient', nullAllowed: boolean): Reply | undefined {
    if (address === '' && nullAllowed) return undefined;
    if (isValidMailbox(address, this.#config['smtp-validate-address'])) return undefined;
    return replies.invalidMailbox(role, address);
  }
}
