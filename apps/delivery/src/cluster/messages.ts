/**
 * What delivery nodes say on the cluster exchange (reference §9), besides `{"reload": true}`:
 *
 * - `{"hello": true}` asks every node to announce itself now (`mtaq cluster list`, a node starting);
 * - `{"hello": {...}}` is one node's announcement: who it is, the source IPs and pools it owns, the
 *   queue that takes mail which must leave from those IPs, and how long the announcement holds;
 * - `{"goodbye": {...}}` is sent by a node that stops gracefully, so the others count it as down at
 *   once instead of after its announcements lapse.
 */

/** One node's announcement (the body of `{"hello": {...}}`). */
export interface Announcement {
  readonly 'server-id': number;
  /** Random per process start: tells a restart (or two nodes sharing a server-id) from a repeat. */
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  /** The outbox this node consumes: nodes sharing it form one sending cluster. */
  readonly outbox: string;
  /** This node's own queue, for mail that must leave from its IPs. */
  readonly queue: string;
  /** Source IPs this node owns (normalised). */
  readonly ips: readonly string[];
  /** Pool names this node knows from its configuration (`ip-pools`). */
  readonly pools: readonly string[];
  /** The node's HTTP server (health, metrics, REST), when it has one. */
  readonly www?: string;
  /** When it was sent (ISO 8601). */
  readonly time: string;
  /** Seconds it holds: a node not heard of for that long is down. */
  readonly ttl: number;
}

export type ClusterMessage =
  | { readonly kind: 'reload' }
  | { readonly kind: 'hello-request' }
  | { readonly kind: 'announcement'; readonly node: Announcement }
  | { readonly kind: 'goodbye'; readonly serverId: number; readonly instance: string };

/** Parses one cluster message; undefined for anything else (other software may share the exchange). */
export function parseClusterMessage(content: Buffer | string): ClusterMessage | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString());
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const record = doc as Record<string, unknown>;
  if (record['reload'] === true) return { kind: 'reload' };
  if (record['hello'] === true) return { kind: 'hello-request' };
  if (typeof record['hello'] === 'object' && record['hello'] !== null) {
    const node = announcement(record['hello'] as Record<string, unknown>);
    return node ? { kind: 'announcement', node } : undefined;
  }
  const bye = record['goodbye'];
  if (typeof bye === 'object' && bye !== null) {
    const { 'server-id': id, instance } = bye as Record<string, unknown>;
    if (typeof id === 'number' && typeof instance === 'string') return { kind: 'goodbye', serverId: id, instance };
  }
  return undefined;
}

function announcement(r: Record<string, unknown>): Announcement | undefined {
  const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined);
  const id = r['server-id'];
  const ips = strings(r['ips']);
  const pools = strings(r['pools']) ?? [];
  const ttl = r['ttl'];
  if (typeof id !== 'number' || !Number.isInteger(id) || ips === undefined) return undefined;
  if (typeof r['instance'] !== 'string' || typeof r['queue'] !== 'string' || typeof r['outbox'] !== 'string') return undefined;
  if (typeof ttl !== 'number' || !(ttl > 0)) return undefined;
  return {
    'server-id': id,
    instance: r['instance'],
    host: typeof r['host'] === 'string' ? r['host'] : '',
    pid: typeof r['pid'] === 'number' ? r['pid'] : 0,
    outbox: r['outbox'],
    queue: r['queue'],
    ips,
    pools,
    ...(typeof r['www'] === 'string' ? { www: r['www'] } : {}),
    time: typeof r['time'] === 'string' ? r['time'] : new Date().toISOString(),
    ttl,
  };
}

export const HELLO_REQUEST: Buffer = Buffer.from(JSON.stringify({ hello: true }));

export function encodeAnnouncement(node: Announcement): Buffer {
  return Buffer.from(JSON.stringify({ hello: node }));
}

export function encodeGoodbye(node: Pick<Announcement, 'server-id' | 'instance'>): Buffer {
  return Buffer.from(JSON.stringify({ goodbye: { 'server-id': node['server-id'], instance: node.instance } }));
}
