import { overTotal, processConnections } from '@mtaq/limits';
import type { ConnectionGate, ConnectionScope, Slot } from './pool.js';

/**
 * `smtp-connections-out` and `smtp-connections` (in + out of this process, §7.8) in front of
 * another gate (the cluster budgets): a slot is granted only when all agree, and the local one is
 * returned if the budget says no. Over a cap the attempt waits for a slot; it never fails.
 */
export class LocalCapGate implements ConnectionGate {
  #inUse = 0;

  constructor(
    private readonly cap: number,
    private readonly next?: ConnectionGate,
    private readonly total = 0,
  ) {}

  get inUse(): number {
    return this.#inUse;
  }

  async tryTake(scope: ConnectionScope): Promise<Slot | undefined> {
    if ((this.cap > 0 && this.#inUse >= this.cap) || overTotal(this.total)) return undefined;
    this.#inUse++;
    processConnections.outbound++;
    let released = false;
    const local = (): void => {
      if (released) return;
      released = true;
      this.#inUse--;
      processConnections.outbound--;
    };
    const inner = this.next ? await this.next.tryTake(scope).catch(() => undefined) : undefined;
    if (this.next && !inner) {
      local();
      return undefined;
    }
    return {
      release: async () => {
        local();
        await inner?.release();
      },
    };
  }
}
