import type { Logger } from '@mtaq/log';
import type { RuleCache } from '@mtaq/rules';
import type { ClusterLink } from '../cluster/link.js';

/**
 * §9: reloads the rules on every `{"reload": true}` on the cluster exchange, so an edit made through
 * any node applies here at once rather than after `database-ttl`. While the cluster link is down
 * the periodic reload still applies. Returns the stop function.
 */
export function listenForClusterReloads(link: ClusterLink, cache: RuleCache, logger: Logger): () => void {
  const log = logger.child({ component: 'rules' });
  const onMessage = (message: { kind: string }): void => {
    if (message.kind !== 'reload') return;
    log.info('cluster asked for a rule reload');
    void cache.reload();
  };
  const onConnected = (): void => log.info('listening for cluster rule reloads');
  link.on('message', onMessage);
  link.on('connected', onConnected);
  if (link.connected) onConnected();
  return () => {
    link.off('message', onMessage);
    link.off('connected', onConnected);
  };
}
