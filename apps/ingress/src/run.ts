import cluster from 'node:cluster';
import { exposureWarnings, type Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { connectFromConfig, type Publisher } from '@mtaq/queue';
import { Injector, type InjectRequest } from './inject/compose.js';
import type { IngressMetrics } from './metrics.js';
import { SpoolWatcher } from './inject/spool.js';
import { AccessPolicy } from './policy/access-policy.js';
import { Authenticator } from './policy/authenticator.js';
import { Ingress, type Listener } from './ingress.js';

export interface RunningIngress {
  readonly listeners: Listener[];
  /** Readiness: the confirm publisher is connected and the broker does not block it. */
  ready(): boolean;
  /** Injects over HTTP (`POST /v1/inject`): composed, published with confirms; answers the ids. */
  inject(request: Omit<InjectRequest, 'extract'>): Promise<string[]>;
  /** Graceful stop: no new connections, sessions in flight finish, confirms drain, broker closes. */
  stop(): Promise<void>;
}

/** One ingress process: broker connection, confirm publisher, SMTP listeners. */
export async function startIngress(config: Config, logger: Logger, options: { metrics?: IngressMetrics | undefined } = {}): Promise<RunningIngress> {
  if (cluster.isPrimary) for (const warning of exposureWarnings(config)) logger.warn(warning);
  const { broker, publisher } = await connectFromConfig(config, logger, 'ingress');
  let authenticator: Authenticator | undefined;
  let listeners: Listener[];
  let ingress: Ingress | undefined;
  let spool: SpoolWatcher | undefined;
  try {
    authenticator = await Authenticator.create(config, logger);
    const auth = authenticator;
    const policy = new AccessPolicy(config, { authConfigured: auth.configured, trustedNetworks: () => auth.trustedNetworks() });
    ingress = new Ingress({ config, logger, publisher, policy, authenticator: auth, metrics: options.metrics });
    listeners = await ingress.listen();
    // the spool has one watcher per ingress: the primary (smtp-threads workers leave it alone)
    if (cluster.isPrimary) spool = await startSpool(config, logger, publisher, options.metrics);
  } catch (err) {
    await ingress?.close();
    await authenticator?.close();
    await publisher.close();
    await broker.close();
    throw err;
  }
  const started = ingress;
  const injector = new Injector({ config, logger, metrics: options.metrics });
  return {
    listeners,
    ready: () => publisher.available,
    async inject(request) {
      // the REST client is authenticated: its x-mq-* headers are honoured, like the CLI's (§5)
      const batches = await injector.compose({ ...request, extract: true });
      await injector.publish(publisher, batches);
      return batches.flatMap((batch) => batch.documents.map((document) => document['message-id']));
    },
    async stop() {
      await spool?.stop();
      await started.close();
      await authenticator?.close();
      await publisher.close();
      await broker.close();
    },
  };
}

/**
 * `smtp-threads: N` runs N ingress processes behind the same listeners (node:cluster shares the
 * sockets). The primary only supervises (and handles its own signals: it returns undefined); a
 * worker or a single process returns its running ingress for the caller to stop on a signal.
 */
export async function runIngress(config: Config, logger: Logger, options: { metrics?: IngressMetrics | undefined } = {}): Promise<RunningIngress | undefined> {
  const threads = config['smtp-threads'];
  if (threads > 1 && cluster.isPrimary) {
    // the workers take SMTP; the primary watches the spool directory, with a broker connection of its own
    let stopSpool: (() => Promise<void>) | undefined;
    if (config['spool-directory'] !== '') {
      const { broker, publisher } = await connectFromConfig(config, logger, 'spool');
      try {
        const spool = (await startSpool(config, logger, publisher, options.metrics))!;
        stopSpool = async () => {
          await spool.stop();
          await publisher.close();
          await broker.close();
        };
      } catch (err) {
        await publisher.close();
        await broker.close();
        throw err;
      }
    }
    superviseWorkers(threads, logger, stopSpool);
    return undefined;
  }
  const running = await startIngress(config, logger, options);
  if (cluster.isWorker) process.send?.({ type: 'listening', listeners: running.listeners });
  return running;
}

/** `spool-directory` watched and injected through `publisher`; undefined when the key is empty. */
async function startSpool(config: Config, logger: Logger, publisher: Publisher, metrics?: IngressMetrics): Promise<SpoolWatcher | undefined> {
  if (config['spool-directory'] === '') return undefined;
  const injector = new Injector({ config, logger, metrics });
  const spool = new SpoolWatcher({ config, injector, publisher, logger });
  await spool.start();
  return spool;
}

function superviseWorkers(threads: number, logger: Logger, beforeStop?: () => Promise<void>): void {
  let stopping = false;
  let ready = 0;
  // Each worker accepts from the shared listening socket itself, as Postfix's smtpd processes do.
  // node:cluster's default (round robin) has the primary accept every connection and pass it to a
  // worker over IPC: for mail's many short sessions that hand-over cost more than a second process
  // gained (2 workers, 150 sessions, one message per connection, 2 cores: 917-936/s round robin,
  // 1,316-1,317/s shared, 1,019/s in one process). A busy worker returns to accept() less often,
  // so the idler one takes more of the new connections.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < threads; i++) cluster.fork();
  cluster.on('message', (_worker, message: { type?: string; listeners?: Listener[] }) => {
    if (message?.type === 'listening' && ++ready === threads) logger.info({ listeners: message.listeners, threads }, 'listening');
  });
  const deaths: number[] = [];
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(process.exitCode ?? 0);
      return;
    }
    // a worker that cannot start (bad certificate, port taken) would otherwise restart forever
    const now = Date.now();
    deaths.push(now);
    while (deaths.length && deaths[0]! < now - 60_000) deaths.shift();
    if (ready < threads && deaths.length >= threads) {
      logger.fatal({ code, signal }, 'ingress workers fail to start, giving up');
      stopping = true;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
      process.exitCode = 1;
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(1);
      return;
    }
    logger.error({ worker: worker.process.pid, code, signal }, 'ingress worker died, restarting');
    setTimeout(() => cluster.fork(), 1000);
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, threads }, 'shutting down workers');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    // the workers exit when their sessions are done; the spool finishes its files meanwhile
    beforeStop?.().catch((err: Error) => logger.error({ err: err.message }, 'spool did not stop cleanly'));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
