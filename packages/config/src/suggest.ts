import { knownNames } from './schema.js';

/** The known name closest to a misspelt one, when it is close enough to be a likely typo. */
export function suggestKey(name: string): string | undefined {
  const wanted = name.toLowerCase().replace(/_/g, '-');
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(wanted.length / 4)));
  for (const candidate of knownNames()) {
    const d = distance(wanted, candidate, bestDistance);
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, giving up early once it exceeds `limit`. */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      row.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    prev = row;
  }
  return prev[b.length] ?? limit + 1;
}

export function unknownKeyMessage(name: string): string {
  const suggestion = suggestKey(name);
  return `unknown key "${name}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`;
}
