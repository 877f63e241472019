import { readFileSync } from 'node:fs';

/**
 * Address patterns as MailerQ's Local Addresses know them: an exact address, `@domain` (any
 * address at that domain), an fnmatch glob (`*@example.com`, `info-?@x.org`) or `/regex/`. All
 * matching is case-insensitive, as mailbox domains are and most local parts are in practice.
 */
export class AddressPatterns {
  readonly #exact = new Set<string>();
  readonly #domains = new Set<string>();
  readonly #patterns: RegExp[] = [];

  constructor(patterns: readonly string[]) {
    for (const raw of patterns) {
      const pattern = raw.trim();
      if (!pattern || pattern.startsWith('#')) continue;
      if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) this.#patterns.push(new RegExp(pattern.slice(1, -1), 'i'));
      else if (pattern.startsWith('@')) this.#domains.add(pattern.slice(1).toLowerCase());
      else if (/[*?[]/.test(pattern)) this.#patterns.push(glob(pattern));
      else this.#exact.add(pattern.toLowerCase());
    }
  }

  /** Patterns from config plus, optionally, a file with one pattern per line. */
  static load(patterns: readonly string[], file: string): AddressPatterns {
    const fromFile = file ? readFileSync(file, 'utf8').split(/\r?\n/) : [];
    return new AddressPatterns([...patterns, ...fromFile]);
  }

  get isEmpty(): boolean {
    return this.#exact.size === 0 && this.#domains.size === 0 && this.#patterns.length === 0;
  }

  matches(address: string): boolean {
    const lower = address.toLowerCase();
    if (this.#exact.has(lower)) return true;
    const at = lower.lastIndexOf('@');
    if (at >= 0 && this.#domains.has(lower.slice(at + 1))) return true;
    return this.#patterns.some((p) => p.test(address));
  }
}

function glob(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end);
        source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}
