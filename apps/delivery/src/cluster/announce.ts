import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import type { ClusterLink } from './link.js';
import { Membership } from './membership.js';
import { encodeAnnouncement, encodeGoodbye, HELLO_REQUEST, type Announcement } from './messages.js';
import { nodeQueue } from './ownership.js';
import type { NodeMemory } from './memory.js';

/**
 * Seconds between announcements. A few dozen bytes on a fanout exchange every few seconds is cheap,
 * and it is what bounds how long mail for a node that died is still forwarded to its queue (where
 * it waits for the node anyway) before it waits in a delay queue instead.
 */
export const ANNOUNCE_SECONDS = 5;
/** An announcement holds for three intervals: one or two lost ones do not mark a node down. */
export const ANNOUNCE_TTL_SECONDS = 3 * ANNOUNCE_SECONDS;
/** At start-up, the least time to wait for answers to our hello after our own echo came back. */
const SETTLE_QUIET_MS = 100;

export type AnnouncerConfig = Pick<Config, 'server-id' | 'rabbitmq-outbox' | 'ip-pools' | 'www-ip' | 'www-port' | 'cluster-timeout'>;

/**
 * Announces this delivery node on the cluster link every {@link ANNOUNCE_SECONDS}, at once on every
 * (re)connection and on every `{"hello": true}`, says goodbye when it stops, and keeps the table of
 * the other nodes from what they announce.
 */
export class Announcer {
  readonly membership: Membership;
  readonly #link: ClusterLink;
  readonly #config: AnnouncerConfig;
  readonly #owned: () => ReadonlySet<string>;
  readonly #instance = randomUUID();
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  /** Resolves the start-up wait when our own announcement comes back. */
  #echo: (() => void) | undefined;
  /** After goodbye nothing is announced, or a late hello would make us look alive again. */
  #stopped = false;

  readonly #memory: NodeMemory | undefined;

  constructor(link: ClusterLink, config: AnnouncerConfig, owned: () => ReadonlySet<string>, logger: Logger, memory?: NodeMemory) {
    this.#link = link;
    this.#memory = memory;
    this.#config = config;
    this.#owned = owned;
    this.#log = logger.child({ component: 'cluster' });
    this.membership = new Membership(() => this.self(), {
      onChange: (event, node) => {
        const fields = { node: node['server-id'], host: node.host, queue: node.queue, ips: node.ips };
        if (event === 'duplicate server-id') this.#log.error(fields, 'another delivery node announces this server-id: every node needs its own');
        else this.#log.info(fields, `delivery node ${event}`);
      },
    });
    link.on('connected', () => {
      this.announce();
      link.publish(HELLO_REQUEST); // after a reconnect, learn who is there now
    });
    link.on('message', (message) => {
      if (message.kind === 'hello-request') this.announce();
      else if (message.kind === 'announcement') {
        if (message.node.instance === this.#instance) this.#echo?.();
        this.membership.heard(message.node);
      } else if (message.kind === 'goodbye') this.membership.left(message.serverId, message.instance);
    });
  }

  /** This node's announcement as of now. */
  self(): Announcement {
    const config = this.#config;
    const www = config['www-port'] > 0 ? `http://${config['www-ip'] === '0.0.0.0' ? hostname() : config['www-ip']}:${config['www-port']}` : undefined;
    return {
      'server-id': config['server-id'],
      instance: this.#instance,
      host: hostname(),
      pid: process.pid,
      outbox: config['rabbitmq-outbox'],
      queue: nodeQueue(config),
      ips: [...this.#owned()],
      pools: [...config['ip-pools'].keys()],
      ...(www ? { www } : {}),
      time: new Date().toISOString(),
      ttl: ANNOUNCE_TTL_SECONDS,
    };
  }

  start(): void {
    this.#timer = setInterval(() => this.announce(), ANNOUNCE_SECONDS * 1000);
    this.#timer.unref();
  }

  announce(): void {
    if (this.#stopped) return;
    const self = this.self();
    this.#link.publish(encodeAnnouncement(self));
    this.#memory?.save(self);
  }

  /**
   * Start-up: asks everyone to announce and waits for the answers before mail is placed, so a node
   * that just started does not take another node's IPs for nobody's. Waits until our own answer has
   * come back and then about as long again (the others answer as fast), at most `cluster-timeout`.
   */
  async settle(): Promise<void> {
    // nodes that are down now but were seen within the last day: their IPs make mail wait
    for (const { node, ageMs } of (await this.#memory?.recall()) ?? []) this.membership.recall(node, ageMs);
    const deadline = Date.now() + this.#config['cluster-timeout'] * 1000;
    while (!this.#link.connected && Date.now() < deadline) await sleep(20);
    if (!this.#link.connected) {
      this.#log.warn('cluster exchange not reachable yet: starting without knowing the other delivery nodes');
      return;
    }
    const asked = Date.now();
    const echoed = new Promise<void>((resolve) => (this.#echo = resolve));
    this.#link.publish(HELLO_REQUEST);
    await Promise.race([echoed, sleep(Math.max(0, deadline - Date.now()))]);
    this.#echo = undefined;
    const roundTrip = Date.now() - asked;
    await sleep(Math.min(Math.max(SETTLE_QUIET_MS, 2 * roundTrip), Math.max(0, deadline - Date.now())));
  }

  /** Stops announcing and tells the others this node is down (it is likely coming back). */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#link.publish(encodeGoodbye(this.self()));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
