import type { Config } from '@mtaq/config';
import { createMessageIdGenerator } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { replies, replyError, type Reply } from '../smtp/replies.js';
import { composeDocuments, type ComposedMessage } from './documents.js';
import { publishDocuments } from './publish.js';
import type { TransactionGate } from './transactions.js';

/** What the message stage asks of the access policy (policy/access-policy.ts answers it). */
export interface ClientRules {
  /** Trusted clients (and logged-in ones) may steer delivery with `x-mq-*` headers. */
  isTrusted(ip: string): boolean;
  /** Local Address recipients may go to `rabbitmq-local` / `rabbitmq-reports`. */
  isLocal(address: string): boolean;
}

/**
 * What happens to a message after DATA: read in full, turned into one JSON document per
 * recipient, published, and answered with the 250 that lists their ids only once the broker
 * confirmed every one of them.
 */
export class MessageIntake {
  readonly #config: Config;
  readonly #publisher: Publisher;
  readonly #rules: ClientRules;
  readonly #log: Logger;
  readonly #nextId: () => string;
  readonly #transactions: TransactionGate | undefined;

  constructor(deps: { config: Config; publisher: Publisher; rules: ClientRules; logger: Logger; transactions?: TransactionGate }) {
    this.#transactions = deps.transactions;
    this.#config = deps.config;
    this.#publisher = deps.publisher;
    this.#rules = deps.rules;
    this.#log = deps.logger;
    this.#nextId = createMessageIdGenerator(deps.config['server-id']);
  }

  /** Resolves with the reply to DATA; rejects with a typed error (size, broker) that smtpError answers. */
  async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<Reply> {
    try {
      const log = this.#log.child({ sid: session.id });
      const rules = this.#rules;
      const { documents, mime, report, bytes } = await this.#compose(stream, session, log);
      await publishDocuments(documents, mime, report, {
        config: this.#config,
        publisher: this.#publisher,
        isLocal: (address) => rules.isLocal(address),
        log,
      });
      log.info({ mids: documents.map((m) => m['message-id']), from: documents[0]?.envelope, rcpts: documents.length, bytes }, 'queued');
      return replies.queued(documents.map((m) => ({ id: m['message-id'], recipient: m.recipient })));
    } finally {
      // the transaction is over: its smtp-max-inflight reservation is free again
      this.#transactions?.end(session);
    }
  }

  /** Read and turned into documents; the raw bytes go out of reach when this returns. */
  async #compose(stream: SMTPServerDataStream, session: SMTPServerSession, log: Logger): Promise<ComposedMessage> {
    const raw = await readMessage(stream);
    const rules = this.#rules;
    return composeDocuments(raw, session, { config: this.#config, isTrusted: (ip) => rules.isTrusted(ip), nextId: this.#nextId, log });
  }
}

/**
 * The whole message. Past `smtp-maxsize` the rest is only drained and the promise rejects with
 * 552 5.3.4 (smtp-server sends its own 552 for it). A stream destroyed mid-message (the client
 * left) never settles: there is nobody left to answer.
 */
function readMessage(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.once('end', () => {
      if (stream.sizeExceeded) reject(replyError(replies.messageTooBig));
      else resolve(Buffer.concat(chunks));
    });
  });
}
