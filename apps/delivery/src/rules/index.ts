import type { DkimKey } from '@mtaq/envelope';
import type { FloodPattern } from './flood.js';
import type { ForcedError, Pause, ResponsePattern, Suppression } from './match.js';

export * from './match.js';
export { FloodGuard, type FloodPattern } from './flood.js';

/** The rule tables delivery consults, as one consistent snapshot (one reload of the database). */
export interface DeliveryRuleSet {
  readonly suppressions: readonly Suppression[];
  readonly pauses: readonly Pause[];
  readonly errors: readonly ForcedError[];
  readonly patterns: readonly ResponsePattern[];
  /** Flood patterns (§7.9). */
  readonly floods: readonly FloodPattern[];
  /** DKIM keys from the table; those whose domain is the From domain sign (§4). */
  readonly dkim: readonly DkimKey[];
  /** IP pools from the `pools`/`poolips` tables: name → member IPs (a pool without rows is empty). */
  readonly pools: ReadonlyMap<string, readonly string[]>;
}

/** Where delivery reads its rules: the latest good snapshot, synchronously. */
export interface DeliveryRules {
  current(): DeliveryRuleSet;
}

export const NO_RULES: DeliveryRuleSet = Object.freeze({ suppressions: [], pauses: [], errors: [], patterns: [], floods: [], dkim: [], pools: new Map() });

/** No database configured: no rules, exactly as before there was a rule database. */
export const noRules: DeliveryRules = { current: () => NO_RULES };
