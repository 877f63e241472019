import type { DnsCache, RecordType } from '@mtaq/dns';
import type { DNSResolver } from 'mailauth';

/**
 * The lookups of one message's checks: answers come from the checks thread's DNS cache (the same
 * resolver and cache code delivery uses; a burst of mail from one domain costs one query per
 * record), and once the message's budget is spent every
 * lookup still waiting, and every new one, fails as a DNS timeout. mailauth turns that into
 * `temperror`, so a name server that never answers can delay a message by the budget, no more.
 * The query itself goes on in the cache, and its answer serves the next message.
 */
export function budgetedResolver(cache: DnsCache, budget: AbortSignal): DNSResolver {
  return (name: string, type: string) => {
    if (budget.aborted) {
      // past the budget only what the cache already holds is served: it answers within microtasks,
      // before the immediate that gives up
      return Promise.race([
        cache.records(name, type as RecordType) as Promise<string[] | string[][]>,
        new Promise<never>((_, reject) => setImmediate(() => reject(timeout(name)))),
      ]);
    }
    return new Promise((resolve, reject) => {
      const expire = (): void => reject(timeout(name));
      budget.addEventListener('abort', expire, { once: true });
      cache.records(name, type as RecordType).then(
        (records) => {
          budget.removeEventListener('abort', expire);
          resolve(records as string[] | string[][]);
        },
        (error: unknown) => {
          budget.removeEventListener('abort', expire);
          reject(error);
        },
      );
    });
  };
}

/** What node's resolver gives for a query nobody answered: mailauth maps ETIMEOUT to temperror. */
function timeout(name: string): Error {
  return Object.assign(new Error(`DNS lookup of ${name} exceeded smtp-check-timeout`), { code: 'ETIMEOUT', hostname: name });
}
