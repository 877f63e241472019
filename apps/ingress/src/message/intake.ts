import type { Config } from '@mtaq/config';
import { createMessageIdGenerator } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { replies, replyError, type Reply } from '../smtp/replies.js';
import { authenticationResults } from '../checks/authentication-results.js';
import type { InboundChecks } from '../checks/inbound-checks.js';
import { checkRefusal } from '../checks/reject-policy.js';
import { composeDocuments, prepareMessage, type CheckAnnotations, type ComposedMessage } from './documents.js';
import { detectReport } from './reports/index.js';
import { publishDocuments, type PublishOptions } from './publish.js';
import type { TransactionGate } from './transactions.js';
import type { IngressMetrics } from '../metrics.js';
import { ReceivedLog } from './received-log.js';

/** What the message stage asks of the access policy (policy/access-policy.ts answers it). */
export interface ClientRules {
  /** Trusted clients (and logged-in ones) may steer delivery with `x-mq-*` headers. */
  isTrusted(ip: string): boolean;
  /** Local Address recipients may go to `rabbitmq-local` / `rabbitmq-reports`. */
  isLocal(address: string): boolean;
}

/**
 * What happens to a message after DATA: read in full, checked (`smtp-check`), turned into one JSON
 * document per recipient, published, and answered with the 250 that lists their ids only once the
 * broker confirmed every one of them.
 */
export class MessageIntake {
  readonly #config: Config;
  readonly #publisher: Publisher;
  readonly #rules: ClientRules;
  readonly #log: Logger;
  readonly #nextId: () => string;
  readonly #transactions: TransactionGate | undefined;
  readonly #checks: InboundChecks | undefined;
  /** received-log-file: one line per published document (undefined while it is empty). */
  readonly #receivedLog: ReceivedLog | undefined;

  readonly #metrics: IngressMetrics | undefined;
  /** The session's logger, made at its first message and reused for the rest (a reused session sends thousands). */
  readonly #sessionLogs = new WeakMap<SMTPServerSession, Logger>();

  constructor(deps: {
    config: Config;
    publisher: Publisher;
    rules: ClientRules;
    logger: Logger;
    transactions?: TransactionGate;
    checks?: InboundChecks | undefined;
    metrics?: IngressMetrics | undefined;
  }) {
    this.#metrics = deps.metrics;
    this.#transactions = deps.transactions;
    this.#config = deps.config;
    this.#publisher = deps.publisher;
    this.#rules = deps.rules;
    this.#log = deps.logger;
    this.#nextId = createMessageIdGenerator(deps.config['server-id']);
    this.#checks = deps.checks;
    this.#receivedLog = ReceivedLog.fromConfig(deps.config, deps.logger);
  }

  /** Resolves with the reply to DATA; rejects with a typed error (size, broker, a check's refusal) that smtpError answers. */
  async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<Reply> {
    try {
      const log = this.#sessionLog(session);
      const { composed, refusal } = await this.#compose(stream, session, log);
      this.#metrics?.received('smtp');
      const { documents, mime, report, bytes } = composed;
      const publish = { config: this.#config, publisher: this.#publisher, isLocal: (address: string) => this.#rules.isLocal(address), log, metrics: this.#metrics };
      if (refusal) {
        await this.#refuse(composed, refusal, publish);
        throw replyError(refusal);
      }
      await publishDocuments(documents, mime, report, publish);
      const checks = documents[0]?.checks;
      log.info({ mids: documents.map((m) => m['message-id']), from: documents[0]?.envelope, rcpts: documents.length, bytes, ...(checks ? { checks } : {}) }, 'queued');
      this.#receivedLog?.write(documents);
      return replies.queued(documents.map((m) => ({ id: m['message-id'], recipient: m.recipient })));
    } finally {
      // the transaction is over: its smtp-max-inflight reservation is free again
      this.#transactions?.end(session);
    }
  }

  #sessionLog(session: SMTPServerSession): Logger {
    let log = this.#sessionLogs.get(session);
    if (log === undefined) {
      log = this.#log.child({ sid: session.id });
      this.#sessionLogs.set(session, log);
    }
    return log;
  }

  /** Read, checked and turned into documents; the raw bytes go out of reach when this returns. */
  async #compose(stream: SMTPServerDataStream, session: SMTPServerSession, log: Logger): Promise<{ composed: ComposedMessage; refusal: Reply | undefined }> {
    const gate = this.#transactions;
    // with checks on, the message goes to the checks thread: in shared memory it is not copied there
    const raw = await readMessage(stream, gate ? (bytes) => gate.hold(session, bytes) : () => true, this.#checks !== undefined);
    const rules = this.#rules;
    const options = { config: this.#config, isTrusted: (ip: string) => rules.isTrusted(ip), nextId: this.#nextId, log };
    const prepared = prepareMessage(raw, session, options);
    const authenticated = Boolean(session.user);
    const reportWanted = this.#reportWanted(session);
    // nothing to wait for: no promise, no turn of the microtask queue
    if (!this.#checks && !reportWanted) return { composed: composeDocuments(prepared, session, options), refusal: undefined };
    // checks and report detection read the message as it came, at the same time
    const [outcome, report] = await Promise.all([
      this.#checks?.run({
        message: raw,
        stored: prepared.body,
        trace: prepared.received,
        authenticated,
        session: {
          ip: session.remoteAddress,
          helo: session.hostNameAppearsAs || '',
          sender: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          hostname: this.#config['smtp-hostname'],
        },
      }),
      reportWanted ? detectReport(raw) : undefined,
    ]);
    const annotations: CheckAnnotations = {
      ...(report ? { report: { summary: report, for: (recipient: string) => rules.isLocal(recipient) } } : {}),
    };
    if (!outcome) return { composed: composeDocuments(prepared, session, options, annotations), refusal: undefined };

    const where = this.#config['smtp-auth-results'];
    const authResults = where.length
      ? {
          field: authenticationResults(this.#config['smtp-hostname'], outcome.entries),
          for: (recipient: string) => where.includes(rules.isLocal(recipient) ? 'local' : 'nonlocal'),
        }
      : undefined;
    const composed = composeDocuments(prepared, session, options, { ...annotations, checks: outcome.entries, ...(authResults ? { authResults } : {}) });
    const refusal = checkRefusal(this.#config, outcome, { authenticated, trusted: rules.isTrusted(session.remoteAddress) });
    return { composed, refusal };
  }

  /** Only local mail can be a report for `rabbitmq-reports` (§3): anything else is not even looked at. */
  #reportWanted(session: SMTPServerSession): boolean {
    return Boolean(this.#config['rabbitmq-reports']) && session.envelope.rcptTo.some((r) => this.#rules.isLocal(r.address));
  }

  /**
   * A message the checks refused goes to `rabbitmq-refused` when it is set (reference §3: for
   * debugging), with the reply it got. That queue is only a record: if the publish fails the client
   * still gets the refusal, which is the decision that counts.
   */
  async #refuse(composed: ComposedMessage, refusal: Reply, publish: PublishOptions): Promise<void> {
    const queue = this.#config['rabbitmq-refused'];
    const mids = composed.documents.map((m) => m['message-id']);
    publish.log.info({ mids, code: refusal.code, reason: refusal.text, checks: composed.documents[0]?.checks }, 'message refused by smtp-check-reject');
    if (!queue) return;
    const documents = composed.documents.map((m) => ({ ...m, refused: { code: refusal.code, status: refusal.status, reason: refusal.text } }));
    try {
      await publishDocuments(documents, composed.mime, false, publish, queue);
    } catch (err) {
      publish.log.warn({ mids, queue, err: (err as Error).message }, 'refused message not recorded on rabbitmq-refused');
    }
  }
}

/**
 * The whole message. Past `smtp-maxsize` the rest is only drained and the promise rejects with
 * 552 5.3.4 (smtp-server sends its own 552 for it); when `hold` finds no room in
 * `smtp-max-inflight` for what has arrived, the bytes are let go, the rest drained, and it rejects
 * with 452 4.3.1 (the client retries later). A stream destroyed mid-message (the client left)
 * never settles: there is nobody left to answer.
 */
function readMessage(stream: SMTPServerDataStream, hold: (bytes: number) => boolean, shared: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let bytes = 0;
    let room = true;
    stream.on('data', (chunk: Buffer) => {
      if (stream.sizeExceeded || !room) return;
      bytes += chunk.length;
      if (hold(bytes)) chunks.push(chunk);
      else {
        room = false;
        chunks = [];
      }
    });
    stream.once('end', () => {
      if (stream.sizeExceeded) reject(replyError(replies.messageTooBig));
      else if (!room) reject(replyError(replies.insufficientStorage));
      else resolve(shared ? concatShared(chunks, bytes) : Buffer.concat(chunks, bytes));
    });
  });
}

/** The chunks as one Buffer over a SharedArrayBuffer, which a worker thread reads without a copy. */
function concatShared(chunks: readonly Buffer[], bytes: number): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(bytes));
  let at = 0;
  for (const chunk of chunks) at += chunk.copy(out, at);
  return out;
}
