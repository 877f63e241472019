/**
 * The rule tables as delivery reads them (reference §7.10, §7.9 pattern types), and the pure
 * decisions over them: which suppression, pause, forced error or response patterns apply to one
 * delivery. Kept free of the store so it is unit-tested on plain objects; rules/view.ts adapts the
 * @mtaq/rules RuleSet to these shapes.
 */

import type { ResultEntry } from '@mtaq/envelope';
import type { MatchType } from '@mtaq/rules';

/** How a reply pattern is compared with the reply (§7.9): the rule database's own type. */
export type { MatchType };

/** Selector of pauses, forced errors and response patterns; an absent field (or `*`) matches anything. */
export interface Selector {
  /** Source pool (exclusive with `mta`). */
  readonly pool?: string | null;
  /** Source IP (exclusive with `pool`). */
  readonly mta?: string | null;
  /** Recipient domain (exclusive with `ip`). */
  readonly domain?: string | null;
  /** Remote (MX) IP. */
  readonly ip?: string | null;
  readonly tag?: string | null;
}

/** Pauses and forced errors bind every instance with `cluster: true`, else only their owner. */
export interface InstanceScoped {
  readonly cluster?: boolean | null;
  /** The instance that owns a `cluster: false` rule (its `server-id`, as text). */
  readonly owner?: string | null;
}

export interface Pause extends Selector, InstanceScoped {
  readonly id?: number | string;
}

export interface ForcedError extends Selector, InstanceScoped {
  readonly id?: number | string;
  readonly code: number;
  readonly extended?: string | null;
  readonly description?: string | null;
}

export interface Suppression {
  readonly id?: number | string;
  readonly type: 'address' | 'domain';
  readonly value: string;
  readonly code: number;
  readonly extended?: string | null;
  readonly description?: string | null;
}

/** The result properties a response pattern may set (§6, §7.2: the five override flags). */
export type ResultOverrides = Partial<Pick<ResultEntry, 'fatal' | 'greylisted' | 'individual' | 'strange' | 'fallback'>>;

export interface ResponsePatternActions {
  /** Source IPs for the next attempts: replace, then add, then remove. */
  readonly ips?: { readonly set?: readonly string[] | null; readonly add?: readonly string[] | null; readonly remove?: readonly string[] | null } | null;
  /** `fail` makes the attempt final, `retry` retries it (after `after` seconds when given). */
  readonly result?: 'fail' | 'retry' | null;
  /** Seconds before the next attempt when the attempt is retried (sets `nextattempt`). */
  readonly after?: number | null;
  readonly tags?: { readonly add?: readonly string[] | null; readonly remove?: readonly string[] | null } | null;
  /** Properties written into the message (top level; `null` removes one). */
  readonly message?: Readonly<Record<string, unknown>> | null;
  /** Properties written into the attempt's `results` entry, e.g. `{"fatal": false}` (C58). */
  readonly properties?: ResultOverrides | null;
}

export interface ResponsePattern extends Selector {
  readonly id?: number | string;
  readonly pattern: string;
  readonly match: MatchType;
  /** Lower numbers are evaluated first. */
  readonly priority?: number | null;
  /** Keep evaluating patterns after this one matched. */
  readonly continue?: boolean | null;
  readonly actions: ResponsePatternActions;
}

/** What delivery knows when it consults a selector. Fields it does not know yet are undefined. */
export interface DeliveryFacts {
  readonly recipient: string;
  readonly domain: string;
  readonly source?: string;
  readonly pool?: string;
  /** Remote addresses the attempt may connect to. */
  readonly remotes?: readonly string[];
  readonly tags: readonly string[];
}

const any = (v: string | null | undefined): boolean => v === undefined || v === null || v === '' || v === '*';
const sameName = (a: string, b: string): boolean => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');

/**
 * Whether `selector` covers the delivery. A field that names something delivery does not know at
 * this point (no source IP yet, no remote addresses) does not match. Domains compare exactly,
 * case-insensitively, without a trailing dot; `ip` matches when it is one of the remote addresses.
 */
export function selects(selector: Selector, facts: DeliveryFacts): boolean {
  if (!any(selector.pool) && (facts.pool === undefined || facts.pool !== selector.pool)) return false;
  if (!any(selector.mta) && (facts.source === undefined || facts.source !== selector.mta)) return false;
  if (!any(selector.domain) && !sameName(facts.domain, selector.domain!)) return false;
  if (!any(selector.ip) && !(facts.remotes ?? []).includes(selector.ip!)) return false;
  if (!any(selector.tag) && !facts.tags.includes(selector.tag!)) return false;
  return true;
}

/** `cluster: true` binds every instance; `false` (or unset) only the instance named by `owner`. */
export function bindsInstance(rule: InstanceScoped, instance: string): boolean {
  if (rule.cluster !== false) return true;
  return rule.owner === undefined || rule.owner === null || rule.owner === '' || String(rule.owner) === instance;
}

/** The suppression entry for `recipient`: an address entry first, then its domain. */
export function findSuppression(entries: readonly Suppression[], recipient: string): Suppression | undefined {
  const address = recipient.toLowerCase();
  const at = address.lastIndexOf('@');
  const domain = at >= 0 ? address.slice(at + 1).replace(/\.$/, '') : '';
  return (
    entries.find((e) => e.type === 'address' && e.value.toLowerCase() === address) ??
    entries.find((e) => e.type === 'domain' && domain !== '' && sameName(e.value, domain))
  );
}

export function findPause(pauses: readonly Pause[], facts: DeliveryFacts, instance: string): Pause | undefined {
  return pauses.find((p) => bindsInstance(p, instance) && selects(p, facts));
}

export function findForcedError(errors: readonly ForcedError[], facts: DeliveryFacts, instance: string): ForcedError | undefined {
  return errors.find((e) => bindsInstance(e, instance) && selects(e, facts));
}

/**
 * `*` any run, `?` one character, `[abc]` / `[!abc]` a class (ranges allowed); everything else is
 * literal. The whole reply must match, case-insensitively.
 */
export function wildcardRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[\\s\\S]*';
    else if (c === '?') out += '[\\s\\S]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      out += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'i');
}

const regexCache = new Map<string, RegExp | null>();

/**
 * Whether `reply` matches: `exact` the whole reply (case-insensitive, outer spaces ignored),
 * `substring` anywhere in it (case-insensitive), `wildcard` per {@link wildcardRegExp}, `regex` a
 * JavaScript regular expression searched in the reply (flags none; write `(?i)`-free patterns, use
 * character classes for case). An invalid regex never matches.
 */
export function replyMatches(pattern: string, match: MatchType, reply: string): boolean {
  switch (match) {
    case 'exact':
      return reply.trim().toLowerCase() === pattern.trim().toLowerCase();
    case 'substring':
      return reply.toLowerCase().includes(pattern.toLowerCase());
    case 'wildcard':
      return wildcardRegExp(pattern).test(reply.trim());
    case 'regex': {
      let re = regexCache.get(pattern);
      if (re === undefined) {
        try {
          re = new RegExp(pattern);
        } catch {
          re = null;
        }
        if (regexCache.size > 1000) regexCache.clear();
        regexCache.set(pattern, re);
      }
      return re !== null && re.test(reply);
    }
    default:
      return false;
  }
}

/** The reply as patterns see it: `550 5.1.1 text` (code, enhanced status when given, text). */
export function replyText(entry: Pick<ResultEntry, 'code' | 'status' | 'description'>): string {
  return [entry.code, entry.status, entry.description].filter((p) => p !== undefined && p !== '').join(' ');
}

/** Patterns that apply, in evaluation order: priority ascending (unset = 0), then table order. */
export function matchingPatterns(patterns: readonly ResponsePattern[], facts: DeliveryFacts, reply: string): ResponsePattern[] {
  const ordered = patterns
    .map((p, index) => ({ p, index }))
    .sort((a, b) => (a.p.priority ?? 0) - (b.p.priority ?? 0) || a.index - b.index)
    .map((x) => x.p);
  const out: ResponsePattern[] = [];
  for (const p of ordered) {
    if (!selects(p, facts) || !replyMatches(p.pattern, p.match, reply)) continue;
    out.push(p);
    if (p.continue !== true) break;
  }
  return out;
}

/** Keys a pattern may not write into the message: what delivery itself owns. */
const PROTECTED = new Set(['recipient', 'results', 'message-id', 'mime', 'key', 'maxdelivertime']);

export interface PatternEffect<M> {
  readonly message: M;
  readonly entry: ResultEntry;
  /** Seconds before the next attempt, when a pattern said so and the attempt is retried. */
  readonly retryAfter?: number;
  readonly applied: ReadonlyArray<number | string | undefined>;
}

/**
 * Applies the actions of the patterns that match the attempt's reply, in order (a later pattern's
 * action wins over an earlier one where they touch the same thing). Returns new objects; the inputs
 * are not changed. Nothing matches ⇒ the inputs are returned as they are.
 */
export function applyResponsePatterns<M extends { ips?: unknown; tags?: unknown }>(
  patterns: readonly ResponsePattern[],
  message: M,
  entry: ResultEntry,
  facts: DeliveryFacts,
): PatternEffect<M> {
  const matched = matchingPatterns(patterns, facts, replyText(entry));
  if (matched.length === 0) return { message, entry, applied: [] };
  const m: Record<string, unknown> = { ...message };
  const e: Record<string, unknown> = { ...entry };
  let retryAfter: number | undefined;
  for (const p of matched) {
    const a = p.actions;
    if (a.ips) {
      let ips = Array.isArray(m['ips']) ? [...(m['ips'] as string[])] : [];
      if (a.ips.set) ips = [...a.ips.set];
      for (const ip of a.ips.add ?? []) if (!ips.includes(ip)) ips.push(ip);
      ips = ips.filter((ip) => !(a.ips!.remove ?? []).includes(ip));
      m['ips'] = ips;
    }
    if (a.tags) {
      let tags = Array.isArray(m['tags']) ? [...(m['tags'] as string[])] : [];
      for (const t of a.tags.add ?? []) if (!tags.includes(t)) tags.push(t);
      tags = tags.filter((t) => !(a.tags!.remove ?? []).includes(t));
      m['tags'] = tags;
    }
    for (const [k, v] of Object.entries(a.message ?? {})) {
      if (PROTECTED.has(k)) continue;
      if (v === null) delete m[k];
      else m[k] = v;
    }
    for (const [k, v] of Object.entries(a.properties ?? {})) {
      if (v === null || v === undefined) delete e[k];
      else e[k] = v;
    }
    if (a.result === 'fail') {
      e['fatal'] = true;
      delete e['greylisted'];
    } else if (a.result === 'retry') {
      e['fatal'] = false;
      if (typeof a.after === 'number' && a.after > 0) retryAfter = a.after;
    }
  }
  return { message: m as M, entry: e as ResultEntry, ...(retryAfter !== undefined ? { retryAfter } : {}), applied: matched.map((p) => p.id) };
}
