import cluster from 'node:cluster';
import type { Config } from '@mtaq/config';
import type { RunningDelivery } from '@mtaq/delivery';
import type { RunningIngress } from '@mtaq/ingress';
import { processConnections } from '@mtaq/limits';
import type { Logger } from '@mtaq/log';
import { Broker } from '@mtaq/queue';
import type { RuleStore } from '@mtaq/rules';
import type { Metrics, RuleApi, RunningWww } from '@mtaq/www';

// @mtaq/www (fastify, prom-client), @mtaq/rules' drivers and the console's sources are loaded
// only when `www-port` is set (`await import`): a process without an HTTP server never loads them.

/** The HTTP server of this process and the metrics the services count into; undefined while `www-port` is empty. */
export interface ProcessHttp {
  readonly metrics: Metrics;
  readonly www: RunningWww;
  /** Registers the ingress: readiness (publisher connected), open connections in, POST /v1/inject. */
  ingress(running: RunningIngress): void;
  /** Registers delivery: readiness (consuming), open connections out, budget slots. */
  delivery(running: RunningDelivery): void;
  close(): Promise<void>;
}

/**
 * Why the HTTP server must not start as configured (a non-loopback `www-ip` without `www-token`,
 * an unreadable token file), as one line; undefined when it may (or is off).
 */
export async function wwwProblem(config: Config): Promise<string | undefined> {
  if (config['www-port'] === 0) return undefined;
  const { consoleLoginProblem, wwwTokens, WwwConfigError } = await import('@mtaq/www');
  try {
    wwwTokens(config);
    return consoleLoginProblem(config['www-auth']);
  } catch (err) {
    if (err instanceof WwwConfigError) return err.message;
    throw err;
  }
}

/**
 * One HTTP server per process (`mtaq pipeline` included) on `www-ip`:`www-port`. Ingress workers
 * of `smtp-threads` run none: the primary serves it.
 */
export async function startProcessHttp(config: Config, logger: Logger): Promise<ProcessHttp | undefined> {
  if (config['www-port'] === 0 || !cluster.isPrimary) return undefined;
  const [{ Metrics, startWww }, { consoleSources }] = await Promise.all([import('@mtaq/www'), import('./console-sources.js')]);
  const metrics = new Metrics();
  const rules = await restRules(config, logger);
  const www = await startWww({ config, logger, metrics, rules: rules?.api, onRulesChanged: rules?.changed, console: consoleSources(config) }).catch(async (err: unknown) => {
    await rules?.close();
    throw err;
  });
  return {
    metrics,
    www,
    ingress(running) {
      www.readiness('ingress', () => running.ready());
      metrics.connections('in', () => processConnections.inbound);
      www.setInject(async (call) => {
        try {
          const ids = await running.inject({ input: call.input, envelope: call.envelope, recipients: call.recipients, origin: { http: { ...call.http } } });
          return { ids };
        } catch (err) {
          // loaded already: the ingress that calls this is running
          const { InjectInputError } = await import('@mtaq/ingress');
          // bad input: 400 with the reason; the broker did not confirm: 503, the client retries
          if (err instanceof InjectInputError) throw Object.assign(new Error(err.message), { statusCode: 400 });
          throw Object.assign(new Error(`not queued: ${(err as Error).message}`), { statusCode: 503 });
        }
      });
    },
    delivery(running) {
      www.readiness('delivery', () => running.ready());
      metrics.connections('out', () => running.stats().connectionsOut);
      metrics.budgetSlots(() => running.stats().budgetSlots);
    },
    async close() {
      await www.close();
      await rules?.close();
    },
  };
}

/**
 * The REST API's view of the rule database (`database-address`; none when it is empty). The store
 * is opened and migrated on first use, so a database that is down fails those requests (503), not
 * the process. A change is announced on the cluster exchange (`{"reload": true}`, §9) over a
 * broker connection of its own, opened with the first change.
 */
async function restRules(config: Config, logger: Logger): Promise<{ api: RuleApi; changed: () => Promise<void>; close: () => Promise<void> } | undefined> {
  if (config['database-address'].trim() === '') return undefined;
  const [{ publishReload, RuleValidationError, storeFromAddress }, { BadRequest }] = await Promise.all([import('@mtaq/rules'), import('@mtaq/www')]);
  const store = storeFromAddress(config['database-address'], { owner: String(config['server-id']) });
  if (!store) return undefined;
  const log = logger.child({ component: 'www' });
  let migrated: Promise<RuleStore> | undefined;
  const ready = (): Promise<RuleStore> => {
    migrated ??= store.migrate().then(
      () => store,
      (err: unknown) => {
        migrated = undefined; // try again with the next request
        log.error({ err: (err as Error).message }, 'rule database unavailable');
        throw Object.assign(new Error(`rule database unavailable: ${(err as Error).message}`), { statusCode: 503 });
      },
    );
    return migrated;
  };
  let broker: Broker | undefined;
  const api: RuleApi = {
    list: async (kind) => (await ready()).list(kind),
    async create(kind, row) {
      const opened = await ready();
      try {
        return await opened.create(kind, row as never);
      } catch (err) {
        if (err instanceof RuleValidationError) throw new BadRequest(`body${err.fields[0] ? `.${err.fields[0]}` : ''}`, err.message);
        throw err;
      }
    },
    remove: async (kind, id) => (await ready()).delete(kind, id),
  };
  return {
    api,
    async changed() {
      const urls = config['cluster-address'].length > 0 ? config['cluster-address'] : config['rabbitmq-address'];
      if (!broker) {
        broker = new Broker({ urls, logger, reconnectDelay: config['rabbitmq-reconnect-delay'], connectionName: `mtaq www ${process.pid}` });
        await broker.start();
      }
      const connection = broker.connection;
      if (!connection) throw new Error('cluster broker unavailable');
      const channel = await connection.createChannel();
      try {
        await publishReload(channel, config['cluster-exchange']);
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
    async close() {
      await broker?.close();
      await store.close();
    },
  };
}
