import { connect, type ChannelModel } from 'amqplib';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import { listenForReload, type ClusterChannel, type RuleCache } from '@mtaq/rules';

/** Seconds between attempts to (re)connect to the cluster broker. */
const RECONNECT_SECONDS = 5;

/**
 * §9: listens on `cluster-exchange` at `cluster-address` (default: rabbitmq-address) and reloads
 * the rules on every `{"reload": true}`, so an edit made through any node applies here at once
 * rather than after `database-ttl`. The connection is remade when it drops; while it is down the
 * periodic reload still applies. Returns the stop function.
 */
export function listenForClusterReloads(config: Pick<Config, 'cluster-address' | 'cluster-exchange' | 'cluster-verify'>, cache: RuleCache, logger: Logger): () => Promise<void> {
  const log = logger.child({ component: 'cluster' });
  const urls = config['cluster-address'];
  let stopped = false;
  let connection: ChannelModel | undefined;
  let timer: NodeJS.Timeout | undefined;
  let warned = false;

  const again = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void open(), RECONNECT_SECONDS * 1000);
    timer.unref();
  };
  const open = async (): Promise<void> => {
    for (const url of urls) {
      if (stopped) return;
      try {
        const c = await connect(url, url.startsWith('amqps:') && !config['cluster-verify'] ? { rejectUnauthorized: false } : {});
        c.on('error', () => undefined);
        c.on('close', () => {
          if (connection === c) connection = undefined;
          if (!stopped) {
            log.warn('cluster broker connection lost: rule reloads by cluster message paused until it is back (database-ttl still applies)');
            again();
          }
        });
        const channel = await c.createChannel();
        channel.on('error', () => undefined);
        await listenForReload(channel as unknown as ClusterChannel, config['cluster-exchange'], cache, log);
        if (stopped) {
          await c.close().catch(() => undefined);
          return;
        }
        connection = c;
        warned = false;
        log.info({ exchange: config['cluster-exchange'] }, 'listening for cluster rule reloads');
        return;
      } catch (err) {
        if (!warned) log.warn({ err: (err as Error).message }, 'cannot listen on the cluster exchange yet; retrying (database-ttl reloads still apply)');
        warned = true;
      }
    }
    again();
  };
  void open();
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await connection?.close().catch(() => undefined);
  };
}
