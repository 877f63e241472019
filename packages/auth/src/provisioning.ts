import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, maskAuthUrl } from './backend.js';

export interface BasicAuth {
  user: string;
  pass: string;
}

/** Where provisioning text comes from and how it is refreshed (the concentrator's resource + interval). */
export interface ProvisioningSource {
  /** A file path, a `file://` URL or an `http(s)://` URL. */
  source: string;
  /** Seconds between reloads; 0 = load once at start. */
  reloadInterval: number;
  /** Seconds an HTTP fetch may take (ignored for files). */
  timeout: number;
  /** HTTP Basic credentials (ignored for files). */
  basicAuth?: BasicAuth;
  logger?: Logger;
}

/**
 * Loads a provisioning document, parses it, and keeps it fresh. The first load must succeed
 * (start-up fails with the error); a later load that fails — unreachable, HTTP error, bad line —
 * keeps what was loaded before and logs an error, so a broken upload never locks everybody out.
 */
export class Provisioner<T> {
  readonly #what: string;
  readonly #options: ProvisioningSource;
  readonly #parse: (text: string, label: string) => T;
  readonly #apply: (value: T) => void;
  readonly #logger: Logger;
  readonly #label: string;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<boolean> | undefined;
  #digest = '';

  constructor(what: string, options: ProvisioningSource, parse: (text: string, label: string) => T, apply: (value: T) => void) {
    this.#what = what;
    this.#options = options;
    this.#parse = parse;
    this.#apply = apply;
    this.#logger = options.logger ?? silentLogger;
    this.#label = isHttp(options.source) ? maskAuthUrl(options.source) : localPath(options.source);
  }

  /** File path or masked URL, for messages. */
  get label(): string {
    return this.#label;
  }

  /** @throws AuthConfigError naming the source (and line, for content errors). */
  async start(): Promise<void> {
    const text = await this.#fetch();
    this.#digest = digest(text);
    this.#apply(this.#parse(text, this.#label));
    const seconds = this.#options.reloadInterval;
    if (seconds > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.reload(), seconds * 1000);
      // Reloading alone must not keep a process alive that is otherwise done.
      this.#timer.unref();
    }
  }

  /**
   * Loads again now (the interval calls this; an operator's reload may too). Resolves true when
   * the document was loaded (changed or not), false when it failed and the old one stays.
   */
  reload(): Promise<boolean> {
    // A slow HTTP source must not pile up overlapping reloads.
    this.#loading ??= this.#reloadOnce().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #reloadOnce(): Promise<boolean> {
    try {
      const text = await this.#fetch();
      const next = digest(text);
      if (next === this.#digest) {
        this.#logger.debug({ source: this.#label }, `${this.#what} unchanged`);
        return true;
      }
      this.#apply(this.#parse(text, this.#label));
      this.#digest = next;
      this.#logger.info({ source: this.#label }, `${this.#what} reloaded`);
      return true;
    } catch (error) {
      this.#logger.error({ source: this.#label, err: error }, `${this.#what} reload failed; keeping the previous version`);
      return false;
    }
  }

  async #fetch(): Promise<string> {
    const { source } = this.#options;
    if (!isHttp(source)) {
      try {
        return await readFile(localPath(source), 'utf8');
      } catch (error) {
        throw new AuthConfigError(`cannot read ${this.#what} ${this.#label}: ${(error as Error).message}`, { cause: error });
      }
    }
    const url = new URL(source);
    let basic = this.#options.basicAuth;
    // fetch refuses URLs with user info; treat it as the Basic credentials it was meant to be.
    if (url.username !== '' || url.password !== '') {
      basic ??= { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
      url.username = '';
      url.password = '';
    }
    const headers: Record<string, string> = {};
    if (basic) headers['authorization'] = `Basic ${Buffer.from(`${basic.user}:${basic.pass}`, 'utf8').toString('base64')}`;
    const timeoutMs = Math.max(1, this.#options.timeout * 1000);
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      throw new AuthConfigError(`cannot fetch ${this.#what} ${this.#label}: ${reason}`, { cause: error });
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new AuthConfigError(`cannot fetch ${this.#what} ${this.#label}: HTTP ${response.status}`);
    }
    try {
      return await response.text();
    } catch (error) {
      throw new AuthConfigError(`cannot fetch ${this.#what} ${this.#label}: ${(error as Error).message}`, { cause: error });
    }
  }
}

function isHttp(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

function localPath(source: string): string {
  return /^file:\/\//i.test(source) ? fileURLToPath(source) : source;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
