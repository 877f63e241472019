/** Where a setting came from, as shown to the operator. */
export interface Origin {
  /** A file path, `command line`, `environment` or `default`. */
  readonly file: string;
  readonly line?: number | undefined;
  /** Full text used in messages: `etc/mtaq.conf:7`, `command line --smtp-port`, `environment MTAQ_SMTP_PORT`. */
  readonly text: string;
  /** True when `text` already names the setting (command line, environment), so messages need not repeat it. */
  readonly namesKey?: boolean | undefined;
}

/** `etc/mtaq.conf:7: smtp-port` or `command line --smtp-port`: the prefix of every message about a setting. */
export function where(origin: Origin, name: string): string {
  return origin.namesKey === true || name === '' ? origin.text : `${origin.text}: ${name}`;
}

export interface ConfigErrorDetails {
  readonly origin: Origin;
  /** Canonical key, or `''` for problems that are not about one key (a line without `:`). */
  readonly key: string;
  /** The name as written when it differs from `key` (an alias). */
  readonly name?: string | undefined;
  readonly expected: string;
  /** The offending text, when there is one. */
  readonly given?: string | undefined;
  /** What exactly is wrong with it, when "expected X, got Y" alone would leave the operator guessing. */
  readonly reason?: string | undefined;
  /** Full message; built from the other fields when omitted. */
  readonly message?: string | undefined;
}

/**
 * A bad configuration. One load collects every problem before throwing, so the thrown error's
 * `errors` holds them all (itself included when there is only one) and its message lists each on
 * its own line.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string;
  readonly expected: string;
  readonly given: string | undefined;
  readonly location: string;
  readonly errors: readonly ConfigError[];

  constructor(details: ConfigErrorDetails) {
    super(details.message ?? defaultMessage(details));
    this.name = 'ConfigError';
    this.file = details.origin.file;
    this.line = details.origin.line;
    this.key = details.key;
    this.expected = details.expected;
    this.given = details.given;
    this.location = details.origin.text;
    this.errors = Object.freeze([this]);
  }

  /** One error standing for all of `errors` (which must not be empty). */
  static aggregate(errors: readonly ConfigError[]): ConfigError {
    const [first] = errors;
    if (first === undefined) throw new TypeError('ConfigError.aggregate needs at least one error');
    if (errors.length === 1) return first;
    const all = new ConfigError({
      origin: { file: first.file, line: first.line, text: first.location, namesKey: true },
      key: first.key,
      expected: first.expected,
      given: first.given,
      message: `${errors.length} configuration errors:\n${errors.map((e) => `  ${e.message}`).join('\n')}`,
    });
    Object.defineProperty(all, 'errors', { value: Object.freeze([...errors]) });
    return all;
  }
}

function defaultMessage(d: ConfigErrorDetails): string {
  const got = d.given === undefined ? '' : `, got ${JSON.stringify(d.given)}`;
  const why = d.reason === undefined ? '' : ` (${d.reason})`;
  return `${where(d.origin, d.name ?? d.key)}: expected ${d.expected}${got}${why}`;
}

/** Something suspicious that does not stop the process: unknown keys, ignored legacy settings. */
export interface ConfigWarning {
  readonly message: string;
  readonly file?: string | undefined;
  readonly line?: number | undefined;
  readonly key?: string | undefined;
}
