import type { ConnectionGate, ConnectionScope, Slot } from './pool.js';

/**
 * `smtp-connections-out` for this process in front of another gate (the cluster budgets): a slot
 * is granted only when both agree, and the local one is returned if the budget says no.
 */
export class LocalCapGate implements ConnectionGate {
  #inUse = 0;

  constructor(
    private readonly cap: number,
    private readonly next?: ConnectionGate,
  ) {}

  get inUse(): number {
    return this.#inUse;
  }

  async tryTake(scope: ConnectionScope): Promise<Slot | undefined> {
    if (this.cap > 0 && this.#inUse >= this.cap) return undefined;
    this.#inUse++;
    let released = false;
    const local = (): void => {
      if (released) return;
      released = true;
      this.#inUse--;
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
