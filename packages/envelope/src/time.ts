import { EnvelopeError } from '@mtaq/errors';

/** A UTC timestamp written exactly as `YYYY-MM-DD HH:MM:SS`, the only shape MailerQ JSON uses. */
export type Time = string;

const SHAPE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

/** The last text tryParseTime read: a message's times are read several times in a row. */
let lastParsed: { readonly text: string; readonly ms: number } | undefined;

/** Like {@link parseTime} but answers `undefined` instead of throwing, for hot validation paths. */
export function tryParseTime(s: string): Date | undefined {
  if (lastParsed?.text === s) return new Date(lastParsed.ms);
  const date = parseShape(s);
  if (date !== undefined) lastParsed = { text: s, ms: date.getTime() };
  return date;
}

function parseShape(s: string): Date | undefined {
  const m = SHAPE.exec(s);
  if (m === null) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]) - 1;
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  // Leap seconds are not representable in Date, so `:60` is rejected with the other overflows.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // setUTCFullYear instead of Date.UTC: the latter maps years 0-99 onto 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hour, minute, second, 0);
  // Date silently rolls 2024-02-30 over into March; a round trip exposes it.
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  return date;
}

/** Parses a strict `YYYY-MM-DD HH:MM:SS` UTC time; anything else (ISO `T`, zones, fractions) throws. */
export function parseTime(s: string): Date {
  const date = tryParseTime(s);
  if (date === undefined) throw new EnvelopeError('', `expected a UTC time "YYYY-MM-DD HH:MM:SS", got ${JSON.stringify(s)}`);
  return date;
}

export function isTime(s: unknown): s is Time {
  return typeof s === 'string' && tryParseTime(s) !== undefined;
}

/** The last second formatTime wrote: every message of that second asks for it again. */
let lastFormatted: { readonly second: number; readonly text: Time } | undefined;

export function formatTime(date: Date): Time {
  const second = Math.floor(date.getTime() / 1000);
  if (lastFormatted?.second === second) return lastFormatted.text;
  const iso = date.toISOString(); // throws RangeError for an invalid Date
  // Years outside 0000-9999 come out as `+010000-…`, which the strict shape cannot carry.
  if (iso.length !== 24) throw new RangeError(`year out of range for a MailerQ time: ${iso}`);
  const text = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  lastFormatted = { second, text };
  return text;
}
