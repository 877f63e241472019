import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import { InboundChecks } from './checks/inbound-checks.js';
import { MessageIntake } from './message/intake.js';
import { declaredSize, TransactionGate } from './message/transactions.js';
import type { AccessPolicy } from './policy/access-policy.js';
import type { Authenticator } from './policy/authenticator.js';
import { PolicyHooks } from './policy/hooks.js';
import { answer, answerAuth, answerData } from './smtp/callbacks.js';
import type { IngressMetrics } from './metrics.js';
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
    const refused = metrics ? (code: number): void => metrics.refused(code) : undefined;
    return new MtaqSMTPServer({
      ...serverOptions(this.#config, { secure, tls, auth: { configured: this.#auth.configured, mechanisms: this.#auth.mechanisms } }),
      onProxyError: (err, peer) => this.#log.debug({ peer, code: err.code, err: err.message }, 'PROXY header refused, connection closed'),
      onConnect: (session, callback) => answer(() => policy.connect(session), callback, refused, 'now'),
      onAuth: (auth, session, callback) => answerAuth(policy.authenticate(auth, session), callback, refused),
      onMailFrom: (address, session, callback) => answer(() => policy.mailFrom(address.address, session, declaredSize(address.args)), callback, refused),
      onRcptTo: (address, session, callback) => answer(() => policy.rcptTo(address.address, session), callback, refused),
      onData: (stream, session, callback) => answerData(this.#intake.receive(stream, session), callback, refused),
      onClose: (session) => policy.closed(session),
    });
  }
}
