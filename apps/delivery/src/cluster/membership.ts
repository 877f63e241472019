import type { Announcement } from './messages.js';

/**
 * How long a node that stopped announcing is still remembered as "down" (its IPs make mail wait)
 * rather than forgotten (its IPs become nobody's, and such mail fails with bind/error).
 */
export const DOWN_MEMORY_MS = 24 * 3600 * 1000;

export type PeerState = 'live' | 'down';

export interface Peer {
  readonly node: Announcement;
  readonly state: PeerState;
  /** When the last announcement arrived (epoch ms, by this process's clock). */
  readonly heardAt: number;
}

/**
 * The table of delivery nodes heard on the cluster exchange, keyed by `server-id`. An entry is live
 * until its announcement's ttl runs out (a missed announcement or three, by the sender's choice of
 * ttl) or the node says goodbye; it is then down, and forgotten after {@link DOWN_MEMORY_MS}. Times
 * are this process's own receipt times, so the nodes' clocks need not agree.
 */
export class Membership {
  readonly #self: () => Announcement;
  /** Our identity fields, read once: `self()` builds a whole announcement (host name, IPs, time). */
  #identity: Pick<Announcement, 'instance' | 'server-id' | 'outbox'> | undefined;
  readonly #now: () => number;
  readonly #peers = new Map<number, { node: Announcement; heardAt: number; gone: boolean }>();
  /** Called with a note when the table changes in a way worth logging. */
  readonly #onChange: ((event: string, node: Announcement) => void) | undefined;

  constructor(self: () => Announcement, options: { now?: () => number; onChange?: (event: string, node: Announcement) => void } = {}) {
    this.#self = self;
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  /** An announcement arrived (our own echo included: it is ignored here). */
  heard(node: Announcement): void {
    const self = this.#me();
    if (node.instance === self.instance) return;
    if (node['server-id'] === self['server-id']) {
      this.#onChange?.('duplicate server-id', node);
      return;
    }
    const known = this.#peers.get(node['server-id']);
    const wasLive = known !== undefined && this.#state(known) === 'live';
    this.#peers.set(node['server-id'], { node, heardAt: this.#now(), gone: false });
    if (!wasLive) this.#onChange?.('joined', node);
  }

  /**
   * A node known from the cluster's memory (Redis), last heard `ageMs` ago: remembered as down until
   * it announces itself. Nodes heard live already are left alone.
   */
  recall(node: Announcement, ageMs: number): void {
    const self = this.#me();
    if (node.instance === self.instance || node['server-id'] === self['server-id'] || this.#peers.has(node['server-id'])) return;
    this.#peers.set(node['server-id'], { node, heardAt: this.#now() - ageMs, gone: true });
  }

  /** A node stopped gracefully: down at once (it will likely come back: a restart, an upgrade). */
  left(serverId: number, instance: string): void {
    const known = this.#peers.get(serverId);
    if (!known || known.node.instance !== instance) return;
    known.gone = true;
    this.#onChange?.('left', known.node);
  }

  /** Every remembered peer with its state, forgotten ones dropped. */
  peers(): Peer[] {
    const out: Peer[] = [];
    for (const [id, entry] of this.#peers) {
      if (this.#now() - entry.heardAt > DOWN_MEMORY_MS) {
        this.#peers.delete(id);
        continue;
      }
      out.push({ node: entry.node, state: this.#state(entry), heardAt: entry.heardAt });
    }
    return out;
  }

  /** Peers consuming the same outbox as this node: the ones that share its mail. Asked for every message. */
  cluster(): Peer[] {
    if (this.#peers.size === 0) return []; // alone: no announcement of our own to build (host name, IPs)
    const outbox = this.#me().outbox;
    return this.peers().filter((p) => p.node.outbox === outbox);
  }

  #me(): Pick<Announcement, 'instance' | 'server-id' | 'outbox'> {
    if (this.#identity === undefined) {
      const self = this.#self();
      this.#identity = { instance: self.instance, 'server-id': self['server-id'], outbox: self.outbox };
    }
    return this.#identity;
  }

  #state(entry: { node: Announcement; heardAt: number; gone: boolean }): PeerState {
    return !entry.gone && this.#now() - entry.heardAt <= entry.node.ttl * 1000 ? 'live' : 'down';
  }
}
