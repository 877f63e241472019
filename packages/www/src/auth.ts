import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@mtaq/log';

/** The HTTP server cannot start as configured: one line for the operator, exit 78. */
export class WwwConfigError extends Error {}

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms: only this host can reach them. */
export function isLoopback(address: string): boolean {
  const ip = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}

/** The token file `www-token` names (`file:///path` or an absolute path as its one entry), else undefined. */
export function tokenFile(setting: readonly string[]): string | undefined {
  if (setting.length !== 1 || !(setting[0]!.startsWith('file://') || setting[0]!.startsWith('/'))) return undefined;
  return setting[0]!;
}

/**
 * `www-token`: the tokens themselves, or one entry that is `file:///path` or an absolute path to
 * a file holding one token per line (blank lines and `#` comments skipped). The file is read at
 * start-up and again on SIGHUP (see watchTokenFile).
 */
export function loadTokens(setting: readonly string[]): string[] {
  const entry = tokenFile(setting);
  if (entry !== undefined) {
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
  #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  /** Puts a new token list in force (a re-read token file); requests already checked are not affected. */
  replace(tokens: readonly string[]): void {
    this.#digests = tokens.map(digest);
  }

  get count(): number {
    return this.#digests.length;
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

/**
 * When `www-token` names a file: re-reads it on SIGHUP and puts its tokens in force, so a token is
 * added or revoked without a restart (the same signal reopens the log files). A file that cannot
 * be read or holds no token keeps the tokens in force and logs an error: a botched edit neither
 * opens the API nor locks every client out. Returns the function that stops listening.
 */
export function watchTokenFile(
  config: { readonly 'www-token': readonly string[] },
  tokens: TokenCheck,
  log: Logger,
): () => void {
  if (tokenFile(config['www-token']) === undefined) return () => undefined;
  const reread = (): void => {
    try {
      tokens.replace(loadTokens(config['www-token']));
      log.info({ tokens: tokens.count }, 'www-token file re-read');
    } catch (err) {
      log.error({ err: (err as Error).message, tokens: tokens.count }, 'www-token file not re-read: the tokens in force are kept');
    }
  };
  process.on('SIGHUP', reread);
  return () => void process.off('SIGHUP', reread);
}
