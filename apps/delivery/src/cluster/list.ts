import type { Config } from '@mtaq/config';
import { silentLogger, type Logger } from '@mtaq/log';
import { redactUrl } from '@mtaq/queue';
import { ClusterLink } from './link.js';
import { HELLO_REQUEST, type Announcement } from './messages.js';

/** Seconds `listCluster` waits for the cluster broker before it gives up. */
const CONNECT_SECONDS = 10;

export class ClusterUnreachable extends Error {}

/**
 * `mtaq cluster list` / `--list-cluster` (§9): sends `{"hello": true}` on the cluster exchange and
 * collects the announcements that come back within `cluster-timeout` seconds, one per node
 * (the latest), sorted by server-id.
 * @throws ClusterUnreachable when the cluster broker cannot be reached.
 */
export async function listCluster(
  config: Pick<Config, 'cluster-address' | 'cluster-exchange' | 'cluster-verify' | 'cluster-timeout'>,
  logger: Logger = silentLogger,
): Promise<Announcement[]> {
  const link = new ClusterLink(config, logger);
  const nodes = new Map<string, Announcement>();
  link.on('message', (message) => {
    if (message.kind === 'announcement') nodes.set(message.node.instance, message.node);
  });
  const connected = new Promise<void>((resolve) => link.once('connected', resolve));
  link.start();
  try {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(resolve, CONNECT_SECONDS * 1000, false)));
    const ok = await Promise.race([connected.then(() => true), timedOut]);
    clearTimeout(timer);
    if (!ok) throw new ClusterUnreachable(`cluster broker ${config['cluster-address'].map(redactUrl).join(', ')} not reachable`);
    link.publish(HELLO_REQUEST);
    await new Promise((resolve) => setTimeout(resolve, config['cluster-timeout'] * 1000));
  } finally {
    await link.stop();
  }
  return [...nodes.values()].sort((a, b) => a['server-id'] - b['server-id'] || a.instance.localeCompare(b.instance));
}

