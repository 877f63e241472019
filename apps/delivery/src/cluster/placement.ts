import type { OutgoingMessage } from '@mtaq/envelope';
import { normalizeIp } from '@mtaq/net';
import { BindError } from '../routing/errors.js';
import type { SourceIps } from '../routing/source-ip.js';
import type { Membership, Peer } from './membership.js';
import type { Announcement } from './messages.js';

/** Seconds mail for a node that is down waits (in a delay queue) before it looks again. */
export const OWNER_WAIT_SECONDS = 10;

/** The message's IPs (or pool) belong to another live node: hand it to that node's queue. */
export class ForwardTo extends Error {
  constructor(readonly node: Announcement) {
    super(`source IPs owned by node ${node['server-id']} (${node.host}): forwarded to ${node.queue}`);
  }
}

/**
 * The message must wait, attempts intact and without a result entry: its IPs belong to a node that
 * is down, or it was forwarded here already and this node's table names someone else (tables
 * disagree for a moment while announcements spread; the delay queue brings it back to the shared
 * outbox, where it is placed afresh).
 */
export class AwaitOwner extends Error {
  readonly seconds = OWNER_WAIT_SECONDS;
}

type Message = Pick<OutgoingMessage, 'ips' | 'pool'>;

/**
 * Where a message may leave from, in a cluster of delivery nodes sharing one outbox (§9, §7.7).
 * Alone (no other node announced this outbox), a node sends from any candidate it can bind, as
 * before. With peers, it sends only from candidates it owns; a candidate another live node owns
 * sends the message there (once: a message forwarded already is not forwarded again), one owned by
 * a node that is down makes it wait, and one nobody owns is `bind/error`, fatal (C46).
 */
export class Placement {
  readonly #sources: SourceIps;
  readonly #membership: Membership;
  readonly #owned: () => ReadonlySet<string>;
  #turn = 0;

  constructor(sources: SourceIps, membership: Membership, owned: () => ReadonlySet<string>) {
    this.#sources = sources;
    this.#membership = membership;
    this.#owned = owned;
  }

  /**
   * The candidates this node may bind for `message`, order kept.
   * @throws ForwardTo, AwaitOwner, or BindError (nobody's IPs; no connection is attempted).
   */
  async usable(message: Message, hops: number): Promise<string[]> {
    const peers = this.#membership.cluster();
    if (peers.length === 0) return this.#sources.usable(message);
    let candidates: string[];
    try {
      candidates = this.#sources.candidates(message);
    } catch (err) {
      // a pool this node does not know may be another node's
      const pool = !Array.isArray(message.ips) && typeof message.pool === 'string' ? message.pool : undefined;
      if (!(err instanceof BindError) || pool === undefined) throw err;
      this.#elsewhere(peers.filter((p) => p.node.pools.includes(pool)), hops, `pool "${pool}"`);
      throw err;
    }
    const owned = this.#owned();
    const mine = candidates.filter((ip) => owned.has(normalizeIp(ip)));
    if (mine.length > 0) {
      const local = await Promise.all(mine.map((ip) => this.#sources.isLocal(ip)));
      const usable = mine.filter((_, i) => local[i]);
      if (usable.length === 0) throw new BindError(`source IPs owned by this node cannot be bound here: ${mine.join(', ')}`, mine);
      return usable;
    }
    const wanted = new Set(candidates.map((ip) => normalizeIp(ip)));
    this.#elsewhere(peers.filter((p) => p.node.ips.some((ip) => wanted.has(ip))), hops, candidates.join(', '));
    throw new BindError(`no delivery node of this cluster owns ${candidates.join(', ')}`, candidates);
  }

  /** Throws ForwardTo or AwaitOwner when one of `owners` can take the message; returns when none. */
  #elsewhere(owners: Peer[], hops: number, what: string): void {
    const live = owners.filter((p) => p.state === 'live');
    if (live.length > 0) {
      if (hops > 0) throw new AwaitOwner(`${what}: forwarded here already, but node ${live.map((p) => p.node['server-id']).join(', ')} owns it; waiting to be placed again`);
      throw new ForwardTo(live[this.#turn++ % live.length]!.node);
    }
    if (owners.length > 0) throw new AwaitOwner(`${what}: owned by node ${owners.map((p) => p.node['server-id']).join(', ')}, which is down; waiting for it`);
  }
}
