import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import { InboundChecks } from './checks/inbound-checks.js';
import { MessageIntake } from './message/intake.js';
import { declaredSize, TransactionGate } from './message/transactions.js';
import type { AccessPolicy } from './policy/access-policy.js';
import type { Authenticator } from './policy/authenticator.js';
import { PolicyHooks } from './policy/hooks.js';
import { answer, answerAuth, answerData, smtpError, type MaybePromise } from './smtp/callbacks.js';
import type { IngressMetrics } from './metrics.js';
import type { Reply } from './smtp/replies.js';
import { listenOn, type Listener } from './smtp/listen.js';
import { serverOptions, tlsOptions, type TlsFiles } from './smtp/options.js';
import { MtaqSMTPServer } from './smtp/server.js';

export type { Listener } from './smtp/listen.js';

export interface IngressDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly publisher: Publisher;
  readonly policy: AccessPolicy;
  readonly authenticator: Authenticator;
  /** Counters for /metrics (received, published, refused by reply code). */
  readonly metrics?: IngressMetrics | undefined;
}

/**
 * The SMTP side of mtaq: listeners on every `smtp-ip` × `smtp-port` (plus implicit-TLS ports),
 * turning each accepted message into one JSON document per recipient on the inbox queue. The
 * client's 250 is sent only after RabbitMQ confirmed every one of those publishes.
 *
 * This only wires the stages: smtp/ speaks the protocol, policy/ decides who may do what (its
 * checks awaited by smtp-server's callbacks), message/ turns a message into documents and
 * publishes them.
 */
export class Ingress {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #auth: Authenticator;
  readonly #policy: PolicyHooks;
  readonly #intake: MessageIntake;
  readonly #checks: InboundChecks | undefined;
  readonly #servers: MtaqSMTPServer[] = [];
  readonly #metrics: IngressMetrics | undefined;

  constructor(deps: IngressDeps) {
    this.#config = deps.config;
    this.#auth = deps.authenticator;
    this.#metrics = deps.metrics;
    this.#log = deps.logger.child({ component: 'ingress' });
    const transactions = new TransactionGate({
      limit: deps.config['smtp-max-inflight'],
      maxSize: deps.config['smtp-maxsize'],
      broker: deps.publisher,
      logger: this.#log,
    });
    this.#policy = new PolicyHooks({ config: deps.config, access: deps.policy, authenticator: deps.authenticator, logger: this.#log, transactions });
    this.#checks = InboundChecks.fromConfig(deps.config);
    this.#intake = new MessageIntake({
      config: deps.config,
      publisher: deps.publisher,
      rules: deps.policy,
      logger: this.#log,
      transactions,
      checks: this.#checks,
      metrics: deps.metrics,
    });
  }

  /** Opens every listener; rejects (closing those already open) if any address cannot be bound. */
  async listen(): Promise<Listener[]> {
    const config = this.#config;
    const hosts: Array<string | undefined> = config['smtp-ip'].length ? [...config['smtp-ip']] : [undefined];
    const plan = [
      ...config['smtp-port'].map((port) => ({ port, secure: false })),
      ...config['smtp-secure-port'].map((port) => ({ port, secure: true })),
    ];
    const tls = tlsOptions(config);
    const listeners: Listener[] = [];
    try {
      for (const host of hosts) {
        for (const { port, secure } of plan) {
          const server = this.#server(secure, tls);
          // client-side socket errors (resets, TLS failures) are routine on an MTA: log, never crash
          server.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'smtp connection error'));
          this.#servers.push(server);
          listeners.push(await listenOn(server, port, host, secure));
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#log.info({ listeners }, 'listening');
    return listeners;
  }

  /** Stops accepting; sessions in flight finish their transaction (bounded by smtp-server's closeTimeout). */
  async close(): Promise<void> {
    const servers = this.#servers.splice(0);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await this.#checks?.close();
  }

  /** One listener's server: the config's options, with smtp-server's hooks awaiting the policy and message stages. */
  #server(secure: boolean, tls: TlsFiles): MtaqSMTPServer {
    const policy = this.#policy;
    const metrics = this.#metrics;
    // every refusal, whatever the stage, counted by its reply code
    const count = <T>(refusal: (value: T) => Reply | undefined) => (value: T): T => {
      const reply = refusal(value);
      if (reply) metrics?.refused(reply.code);
      return value;
    };
    const countFailure = (err: unknown): never => {
      metrics?.refused(smtpError(err).responseCode);
      throw err;
    };
    const counted = <T>(outcome: Promise<T>, refusal: (value: T) => Reply | undefined): Promise<T> =>
      metrics ? outcome.then(count(refusal), countFailure) : outcome;
    /** The same for the checks that may answer at once: counted without a microtask, a throw counted too. */
    const countedNow = (check: () => MaybePromise<Reply | undefined>) => (): MaybePromise<Reply | undefined> => {
      if (!metrics) return check();
      let outcome: MaybePromise<Reply | undefined>;
      try {
        outcome = check();
      } catch (err) {
        return countFailure(err);
      }
      return outcome instanceof Promise ? counted(outcome, refusalOf) : count(refusalOf)(outcome);
    };
    const refusalOf = (reply: Reply | undefined): Reply | undefined => reply;
    return new MtaqSMTPServer({
      ...serverOptions(this.#config, { secure, tls, auth: { configured: this.#auth.configured, mechanisms: this.#auth.mechanisms } }),
      onProxyError: (err, peer) => this.#log.debug({ peer, code: err.code, err: err.message }, 'PROXY header refused, connection closed'),
      onConnect: (session, callback) => answer(countedNow(() => policy.connect(session)), callback),
      onAuth: (auth, session, callback) => answerAuth(counted(policy.authenticate(auth, session), (d) => ('refusal' in d ? d.refusal : undefined)), callback),
      onMailFrom: (address, session, callback) => answer(countedNow(() => policy.mailFrom(address.address, session, declaredSize(address.args))), callback),
      onRcptTo: (address, session, callback) => answer(countedNow(() => policy.rcptTo(address.address, session)), callback),
      onData: (stream, session, callback) => answerData(counted(this.#intake.receive(stream, session), () => undefined), callback),
      onClose: (session) => policy.closed(session),
    });
  }
}
