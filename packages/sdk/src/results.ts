import { formatTime, type ResultEntry } from '@mtaq/envelope';
import type { Document } from './client.js';

/**
 * A `results` entry (reference §6) for something a script decided, e.g.
 * `resultEntry('process', 'error', 'no customer for this sender')`.
 */
export function resultEntry(state: ResultEntry['state'], result: ResultEntry['result'], description: string, now = new Date()): ResultEntry {
  return { state, result, time: formatTime(now), description } as ResultEntry;
}

/** A copy of `document` with `entry` appended to its `results` (an absent or odd `results` starts a new list). */
export function withResult(document: Document, entry: ResultEntry): Document {
  const results = Array.isArray(document['results']) ? (document['results'] as unknown[]) : [];
  return { ...document, results: [...results, entry] };
}
