import type { DkimKey } from '@mtaq/envelope';
import type { RuleSet } from '@mtaq/rules';
import type { DeliveryRuleSet, DeliveryRules } from './index.js';

/** Delivery's view of one RuleSet snapshot (the tables it consults; DKIM rows as signing keys). */
export function deliveryView(set: RuleSet): DeliveryRuleSet {
  return {
    suppressions: set.suppressions,
    pauses: set.pauses,
    errors: set.errors,
    patterns: set.patterns,
    floods: set.floods,
    pools: poolsOf(set),
    dkim: set.dkimkeys.map((row): DkimKey => {
      const canonicalization = /^(relaxed|simple)(\/(relaxed|simple))?$/.test(row.canonicalization ?? '')
        ? (row.canonicalization as DkimKey['canonicalization'])
        : undefined;
      return {
        domain: row.domain,
        selector: row.selector,
        key: row.key,
        ...(row.headers ? { headers: [...row.headers] } : {}),
        ...(canonicalization ? { canonicalization } : {}),
      };
    }),
  };
}

function poolsOf(set: RuleSet): Map<string, string[]> {
  const pools = new Map<string, string[]>(set.pools.map((p) => [p.name, []]));
  for (const member of set.poolips) {
    const list = pools.get(member.pool);
    if (list) list.push(member.ip);
    else pools.set(member.pool, [member.ip]);
  }
  return pools;
}

/** Rules read from `current()` of a RuleCache (or anything handing out RuleSets), converted once per snapshot. */
export function rulesFrom(source: { current(): RuleSet }): DeliveryRules {
  let last: RuleSet | undefined;
  let view: DeliveryRuleSet | undefined;
  return {
    current() {
      const set = source.current();
      if (set !== last || view === undefined) {
        last = set;
        view = deliveryView(set);
      }
      return view;
    },
  };
}
