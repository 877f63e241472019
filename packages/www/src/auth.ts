import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The HTTP server cannot start as configured: one line for the operator, exit 78. */
export class WwwConfigError extends Error {}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms: only this host can reach them. */
export function isLoopback(address: string): boolean {
  const ip = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}

/**
 * `www-token`: the tokens themselves, or one entry that is `file:///path` or an absolute path to
 * a file holding one token per line (blank lines and `#` comments skipped). The file is read once,
 * at start-up: after changing it, restart the process.
 */
export function loadTokens(setting: readonly string[]): string[] {
  if (setting.length === 1 && (setting[0]!.startsWith('file://') || setting[0]!.startsWith('/'))) {
    const entry = setting[0]!;
    const path = entry.startsWith('file://') ? fileURLToPath(entry) : entry;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new WwwConfigError(`www-token: cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const tokens = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    if (tokens.length === 0) throw new WwwConfigError(`www-token: the token file ${path} holds no token`);
    return tokens;
  }
  return setting.filter((token) => token !== '');
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks `Authorization: Bearer TOKEN` against every configured token in constant time (digests of
 * equal length, every token compared, no early exit). Answers the 1-based number of the token that
 * matched (it names the client in the `http` property without revealing the token), or 0.
 */
export class TokenCheck {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get configured(): boolean {
    return this.#digests.length > 0;
  }

  match(header: string | undefined): number {
    const found = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    if (!found || this.#digests.length === 0) return 0;
    const given = digest(found[1]!);
    let matched = 0;
    this.#digests.forEach((expected, i) => {
      if (timingSafeEqual(given, expected) && matched === 0) matched = i + 1;
    });
    return matched;
  }
}

/** What `www-ip` / `www-token` allow: throws WwwConfigError when the server must not start. */
export function wwwTokens(config: { readonly 'www-ip': string; readonly 'www-token': readonly string[] }): string[] {
  const tokens = loadTokens(config['www-token']);
  if (tokens.length === 0 && !isLoopback(config['www-ip'])) {
    throw new WwwConfigError(`www-ip ${config['www-ip']} is not a loopback address: set www-token (the REST API and /metrics would be open to the network)`);
  }
  return tokens;
}
