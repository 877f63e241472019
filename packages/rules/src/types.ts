/**
 * The rule database's tables as typed rows (reference §7.9, §7.10, §9, cases C49-C51, C58).
 *
 * Conventions shared by every table:
 * - `id` is assigned by the database; `created` is an ISO-8601 time set by the database.
 * - A selector field that is `null` (or was given as `*` or '' when created) matches anything.
 * - Field names follow the reference: `pool` xor `mta` (source pool / source IP), `domain` xor `ip`
 *   (recipient domain / remote MX IP), `tag`, `cluster`.
 * - `New<Row>` is what a create call takes: the row without `id`/`created`, optional fields omissible.
 */

/** How a reply pattern is compared with the SMTP reply (§7.9: exact, substring, wildcard, regex).
 * On input `substr` is accepted for `substring` and `fnmatch` for `wildcard` (MailerQ's own spellings). */
export type MatchType = 'exact' | 'substring' | 'wildcard' | 'regex';
export const MATCH_TYPES: readonly MatchType[] = ['exact', 'substring', 'wildcard', 'regex'];

/** Source and destination selector of pauses, forced errors, response and flood patterns. */
export interface Selector {
  /** Source pool name (exclusive with `mta`). */
  readonly pool: string | null;
  /** Source IP (exclusive with `pool`). */
  readonly mta: string | null;
  /** Recipient domain, lower case, no trailing dot (exclusive with `ip`). */
  readonly domain: string | null;
  /** Remote MX IP (exclusive with `domain`). */
  readonly ip: string | null;
  /** One of the message's tags. */
  readonly tag: string | null;
}

/** Pauses and forced errors: `cluster: true` binds every instance, `false` only `owner`. */
export interface InstanceScoped {
  readonly cluster: boolean;
  /** The instance that created the rule: its `server-id` as decimal text (null = unknown, binds everyone). */
  readonly owner: string | null;
}

interface RowBase {
  readonly id: number;
  /** ISO-8601 creation time. */
  readonly created: string;
}

/** Suppression list entry (§7.10, C49): `suppression/error` with this code before any DNS step. */
export interface Suppression extends RowBase {
  readonly type: 'address' | 'domain';
  /** Address (lower case) or domain (lower case, no trailing dot). */
  readonly value: string;
  /** SMTP code, 200-599 (usually 5xx). */
  readonly code: number;
  /** Enhanced status, e.g. "5.1.1". */
  readonly extended: string | null;
  readonly description: string | null;
}

/** Pause (§7.10, C50): matching messages are parked, not failed; resume when the row is deleted. */
export interface Pause extends RowBase, Selector, InstanceScoped {
  readonly description: string | null;
}

/** Forced error (§7.10, C51): matching deliveries get this result without connecting. */
export interface ForcedError extends RowBase, Selector, InstanceScoped {
  /** 200-599; 4xx retries, 5xx fails. */
  readonly code: number;
  readonly extended: string | null;
  readonly description: string | null;
}

/** The result properties a response pattern may set (§6: the five override flags). */
export interface ResultOverrides {
  readonly fatal?: boolean;
  readonly individual?: boolean;
  readonly strange?: boolean;
  readonly greylisted?: boolean;
  readonly fallback?: boolean;
}

/** What a response pattern does when it matches (§7.10). Stored as JSON. */
export interface ResponsePatternActions {
  /** Source IPs for the next attempts: replace, then add, then remove. */
  readonly ips?: { readonly set?: readonly string[]; readonly add?: readonly string[]; readonly remove?: readonly string[] };
  /** `fail` makes the attempt final, `retry` retries it (after `after` seconds when given). */
  readonly result?: 'fail' | 'retry';
  /** Seconds before the next attempt when retried (sets `nextattempt`). */
  readonly after?: number;
  readonly tags?: { readonly add?: readonly string[]; readonly remove?: readonly string[] };
  /** Properties written into the message (top level; `null` removes one). */
  readonly message?: Readonly<Record<string, unknown>>;
  /** Properties written into the attempt's `results` entry, e.g. `{"fatal": false}` (C58). */
  readonly properties?: ResultOverrides & Readonly<Record<string, unknown>>;
}

/** Response pattern (§7.10, C58). Triggers = selector (no remote `ip`) + reply pattern. */
export interface ResponsePattern extends RowBase, Selector {
  readonly pattern: string;
  readonly match: MatchType;
  /** Lower numbers are evaluated first; ties by id. */
  readonly priority: number;
  /** Keep evaluating further patterns after this one matched. */
  readonly continue: boolean;
  readonly actions: ResponsePatternActions;
  readonly description: string | null;
}

/** Flood pattern (§7.9): a matching reply pauses the source→domain pair, then reduces its capacity. */
export interface FloodPattern extends RowBase, Selector {
  readonly pattern: string;
  readonly match: MatchType;
  /** Seconds the source→domain pair is paused. */
  readonly pauseSeconds: number;
  /** Seconds the reduced capacity applies after the pause. */
  readonly reducedSeconds: number;
  /** Reduced capacity: max concurrent connections (null = unchanged, 0 = unlimited). */
  readonly connections: number | null;
  /** Reduced capacity: messages per minute (null = unchanged, 0 = unlimited). */
  readonly messagesPerMinute: number | null;
  readonly description: string | null;
}

/** IP pool (§7.7). */
export interface Pool extends RowBase {
  readonly name: string;
  readonly description: string | null;
}

/** Membership of one local IP in a pool; an IP is in at most one pool (unique `ip`). */
export interface PoolIp extends RowBase {
  readonly pool: string;
  readonly ip: string;
}

/** An IP not bound locally that may still be used as a source (a NAT/external MTA, §7.7). */
export interface ExternalMta extends RowBase {
  readonly ip: string;
  /** EHLO name for this IP (like `mtanames`); null = its PTR name. */
  readonly hostname: string | null;
  readonly description: string | null;
}

/** DKIM key (§4): signs mail whose From domain is `domain`. */
export interface DkimKeyRow extends RowBase {
  readonly domain: string;
  readonly selector: string;
  /** PEM private key. */
  readonly key: string;
  /** Extra header fields to sign (null = defaults). */
  readonly headers: readonly string[] | null;
  /** "header/body", e.g. "relaxed/simple" (null = default). */
  readonly canonicalization: string | null;
}

/** Every table, loaded in one transaction (one consistent instant). */
export interface RuleSet {
  readonly suppressions: readonly Suppression[];
  readonly pauses: readonly Pause[];
  readonly errors: readonly ForcedError[];
  readonly patterns: readonly ResponsePattern[];
  readonly floods: readonly FloodPattern[];
  readonly pools: readonly Pool[];
  readonly poolips: readonly PoolIp[];
  readonly externalmtas: readonly ExternalMta[];
  readonly dkimkeys: readonly DkimKeyRow[];
  /** When this snapshot was read (ms since the epoch). */
  readonly loadedAt: number;
}

/** The tables by their REST name (`/v1/<kind>`). */
export interface RuleTables {
  suppressions: Suppression;
  pauses: Pause;
  errors: ForcedError;
  patterns: ResponsePattern;
  floods: FloodPattern;
  pools: Pool;
  poolips: PoolIp;
  externalmtas: ExternalMta;
  dkimkeys: DkimKeyRow;
}
export type RuleKind = keyof RuleTables;
export const RULE_KINDS: readonly RuleKind[] = ['suppressions', 'pauses', 'errors', 'patterns', 'floods', 'pools', 'poolips', 'externalmtas', 'dkimkeys'];

/** Fields a create call may leave out: nullable ones (null) and those with a default. */
type Defaulted = 'cluster' | 'owner' | 'priority' | 'continue' | 'actions';
type OptionalKeys<T> = { [K in keyof T]-?: null extends T[K] ? K : K extends Defaulted ? K : never }[keyof T];
/** What `create` takes for a table: the row without `id`/`created`; nullable fields may be left out. Defaults:
 * `cluster` true, `owner` the creating instance, `priority` 0, `continue` false, `actions` {}. */
export type New<R> = Omit<R, 'id' | 'created' | OptionalKeys<R>> & { [K in Exclude<OptionalKeys<R>, 'id' | 'created'>]?: R[K] | undefined };
export type NewRow<K extends RuleKind> = New<RuleTables[K]>;

export const EMPTY_RULESET: RuleSet = Object.freeze({
  suppressions: [],
  pauses: [],
  errors: [],
  patterns: [],
  floods: [],
  pools: [],
  poolips: [],
  externalmtas: [],
  dkimkeys: [],
  loadedAt: 0,
});
