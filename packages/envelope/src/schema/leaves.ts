/**
 * The scalar shapes the documents are built from, each with the one-line reason a producer reads
 * when a value does not fit. Two checks a pattern cannot make are formats whose code lives here:
 * a calendar-valid time (2024-02-30 matches the pattern) and an IP address.
 */

import { isIP } from 'node:net';
import { FormatRegistry, Type } from '@sinclair/typebox';
import { isTime } from '../time.js';

// Registered once per process; TypeCompiler consults the registry when a schema names the format.
FormatRegistry.Set('mq-time', isTime);
FormatRegistry.Set('mq-ip', (v) => isIP(v) !== 0);

const TIME_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$';
const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f]*$';
const NOTIFY_PATTERN = '^(?:NEVER|(?:SUCCESS|FAILURE|DELAY)(?:,(?:SUCCESS|FAILURE|DELAY))*)$';

const TIME_REASON = 'expected a UTC time "YYYY-MM-DD HH:MM:SS"';

/** Why a string failed its `pattern` or `format`, keyed by that pattern or format name. */
export const REASONS: ReadonlyMap<string, string> = new Map([
  [TIME_PATTERN, TIME_REASON],
  ['mq-time', TIME_REASON],
  ['mq-ip', 'expected an IP address'],
  [NO_CONTROLS, 'must not contain control characters (CR, LF, NUL, …)'],
  [NOTIFY_PATTERN, 'expected NEVER or a comma list of SUCCESS, FAILURE, DELAY'],
]);

export const Time = (description = 'UTC time "YYYY-MM-DD HH:MM:SS"') =>
  Type.String({ pattern: TIME_PATTERN, format: 'mq-time', description });

export const Ip = (description?: string) => Type.String({ format: 'mq-ip', ...(description ? { description } : {}) });

/**
 * An address that reaches an SMTP command line: CR, LF or any other control character would end
 * the command early or smuggle another one in, so such a document is unusable (process/invalid).
 */
export const Address = (minLength: 0 | 1, description: string) =>
  Type.String({ ...(minLength ? { minLength } : {}), pattern: NO_CONTROLS, description });

export const NonEmpty = (description?: string) => Type.String({ minLength: 1, ...(description ? { description } : {}) });

export const Int = (minimum: number, maximum?: number, description?: string) =>
  Type.Integer({ minimum, ...(maximum === undefined ? {} : { maximum }), ...(description ? { description } : {}) });

export const Port = (description?: string) => Int(0, 65535, description);

export const Notify = () =>
  Type.String({ pattern: NOTIFY_PATTERN, description: 'NEVER, or a comma list of SUCCESS, FAILURE, DELAY (mtaq upper-cases and drops blanks first)' });

/** A string enumeration; TypeBox has no `enum` keyword, so a union of constants. */
export const OneOf = <T extends string>(values: readonly T[], description?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    description ? { description } : {},
  );

/** A single value or an array of them (`dkim`, `headers.remove`, header values). */
export const OneOrMany = <T extends Parameters<typeof Type.Array>[0]>(item: T, description?: string) =>
  Type.Union([item, Type.Array(item)], description ? { description } : {});
