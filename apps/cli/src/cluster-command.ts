import type { Config } from '@mtaq/config';
import { ClusterUnreachable, listCluster, type Announcement } from '@mtaq/delivery';
import { EX_UNAVAILABLE, EX_USAGE } from './exit-codes.js';

/**
 * `mtaq cluster list [--json]` (MailerQ: `--list-cluster`, §9): asks every delivery node on the
 * cluster exchange to announce itself, listens `cluster-timeout` seconds, and prints one line per
 * node: server-id, host and pid, its own queue, the source IPs (and pools) it owns, its HTTP server.
 */
export async function clusterCommand(config: Config, words: string[]): Promise<number> {
  const json = words.includes('--json');
  const [sub, ...rest] = words.filter((word) => word !== '--json');
  if (sub !== 'list' || rest.length > 0) {
    process.stderr.write(`mtaq cluster: unknown subcommand "${[sub, ...rest].join(' ')}" (expected list; see mtaq cluster --help)\n`);
    return EX_USAGE;
  }
  let nodes: Announcement[];
  try {
    nodes = await listCluster(config);
  } catch (err) {
    if (!(err instanceof ClusterUnreachable)) throw err;
    process.stderr.write(`mtaq cluster list: ${err.message}\n`);
    return EX_UNAVAILABLE;
  }
  if (json) {
    for (const node of nodes) process.stdout.write(`${JSON.stringify(node)}\n`);
  } else {
    for (const node of nodes) process.stdout.write(`${describe(node)}\n`);
  }
  process.stderr.write(`${nodes.length} delivery node(s) answered on ${config['cluster-exchange']} within ${config['cluster-timeout']} s\n`);
  return 0;
}

function describe(node: Announcement): string {
  return [
    `server-id ${node['server-id']}`,
    `host ${node.host} pid ${node.pid}`,
    `queue ${node.queue}`,
    `ips ${node.ips.length > 0 ? node.ips.join(',') : '-'}`,
    ...(node.pools.length > 0 ? [`pools ${node.pools.join(',')}`] : []),
    ...(node.www ? [`www ${node.www}`] : []),
  ].join('  ');
}
