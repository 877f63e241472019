import type { LimitRule } from '@mtaq/config';

export type { LimitRule } from '@mtaq/config';

/** What a rule is matched against: the source IP (and its pool, if any) and the recipient domain. */
export interface RuleScope {
  readonly source: string;
  readonly pool?: string | undefined;
  readonly domain: string;
}

/** Infinity = unlimited. */
export interface Limits {
  readonly connections: number;
  readonly messagesPerMinute: number;
}

export interface EffectiveLimits {
  /** For this one source IP to the destination. */
  readonly perSource: Limits;
  /** For every source IP in the cluster together to the destination. */
  readonly destination: Limits;
}

/** 0 = most specific. Undefined = the rule does not apply. */
function specificity(rule: LimitRule, scope: RuleScope, allRules: boolean): number | undefined {
  const domain = scope.domain.toLowerCase().replace(/\.$/, '');
  if (rule.domain !== '*' && rule.domain !== domain) return undefined;
  const domainMatch = rule.domain !== '*';
  let sourceMatch: boolean | undefined;
  if (allRules) {
    if (rule.source !== 'all') return undefined;
    // `all` has no narrower form, so only the domain ranks these rules.
    sourceMatch = false;
  } else if (rule.source === '*') sourceMatch = false;
  else if (rule.source === 'all') return undefined;
  else if (rule.source === scope.source.toLowerCase() || (scope.pool !== undefined && rule.source === scope.pool)) sourceMatch = true;
  else return undefined;
  if (sourceMatch && domainMatch) return 0;
  if (domainMatch) return 1;
  if (sourceMatch) return 2;
  return 3;
}

function toLimit(value: number | undefined): number {
  return value === undefined || value === 0 ? Infinity : value;
}

function resolve(rules: readonly LimitRule[], scope: RuleScope, allRules: boolean): Limits {
  const ranked = rules
    .map((rule, index) => ({ rule, index, rank: specificity(rule, scope, allRules) }))
    .filter((r): r is { rule: LimitRule; index: number; rank: number } => r.rank !== undefined)
    .sort((a, b) => a.rank - b.rank || a.index - b.index);
  // A field missing in the winner comes from the next less specific rule that sets it (§7.9 "unset means inherit").
  return {
    connections: toLimit(ranked.find((r) => r.rule.connections !== undefined)?.rule.connections),
    messagesPerMinute: toLimit(ranked.find((r) => r.rule.messagesPerMinute !== undefined)?.rule.messagesPerMinute),
  };
}

/** The limits for one (source IP, pool, domain): most specific rule first, earlier rule first among equals (C57). */
export function effectiveLimits(rules: readonly LimitRule[], scope: RuleScope): EffectiveLimits {
  return { perSource: resolve(rules, scope, false), destination: resolve(rules, scope, true) };
}

/** What one of `processes` delivery processes may use on its own while the shared counters are unreachable. */
export function localShare(limit: number, processes: number): number {
  if (!Number.isFinite(limit)) return limit;
  return Math.max(1, Math.floor(limit / Math.max(1, processes)));
}
