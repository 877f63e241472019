import { createHash, randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '@mtaq/config';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import { InjectInputError, type Injector } from './compose.js';
import { userName } from './user-name.js';

/** Seconds between rescans of the spool directory: fs.watch misses events (NFS, overflow, a restart). */
const RESCAN_MS = 2000;
/** A file whose publish failed is not tried again before this, doubling up to RETRY_MAX_MS. */
const RETRY_MS = 2000;
const RETRY_MAX_MS = 60_000;
const CLAIM = '.mtaq-claim';

/**
 * `spool-directory`: every regular file dropped there whose name does not start with a dot is a
 * message (MIME, or JSON when it starts with `{` or `[`), injected like SMTP mail.
 *
 * - A file is claimed by renaming it to `.mtaq-claim.<host>.<pid>.<random>.<name>` first: rename is
 *   atomic, so of several processes (or hosts sharing the directory) exactly one gets it; the others
 *   see ENOENT and move on.
 * - Then it is read, turned into one document per recipient, published with confirms, and removed
 *   (`spool-remove: true`) or moved into `<spool-directory>/injected/`.
 * - A file that cannot become a message (bad JSON, no recipients, too big) is moved to
 *   `spool-fail-directory` (default `<spool-directory>/failed/`) with `<name>.reason` beside it and
 *   an error log line. A publish that failed (broker down) gives the file back under its name; it is
 *   tried again later.
 * - A claim left by a process of this host that is gone (killed mid-file) is given back on a rescan:
 *   at-least-once, like SMTP; a copy that was confirmed before the kill is then published again.
 *
 * fs.watch says when to look, a rescan every 2 s catches what it missed; `spool-delay` leaves files
 * alone until they are that many seconds old (their mtime); `spool-open-files` are handled at once.
 */
export class SpoolWatcher {
  readonly #dir: string;
  readonly #failDir: string;
  readonly #doneDir: string | undefined;
  readonly #delayMs: number;
  readonly #maxSize: number;
  readonly #openFiles: number;
  readonly #extract: boolean;
  readonly #injector: Injector;
  readonly #publisher: Publisher;
  readonly #log: Logger;
  readonly #host = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  readonly #active = new Map<string, Promise<void>>();
  readonly #retryAt = new Map<string, { at: number; wait: number }>();
  #watcher: FSWatcher | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(deps: { config: Config; injector: Injector; publisher: Publisher; logger: Logger }) {
    const config = deps.config;
    this.#dir = resolve(config['spool-directory']);
    this.#failDir = config['spool-fail-directory'] ? resolve(config['spool-fail-directory']) : join(this.#dir, 'failed');
    this.#doneDir = config['spool-remove'] ? undefined : join(this.#dir, 'injected');
    this.#delayMs = config['spool-delay'] * 1000;
    this.#maxSize = config['smtp-maxsize'];
    this.#openFiles = config['spool-open-files'];
    this.#extract = config['spool-extract'];
    this.#injector = deps.injector;
    this.#publisher = deps.publisher;
    this.#log = deps.logger.child({ component: 'spool' });
  }

  /** Creates the directories, starts watching, and runs a first scan in the background. */
  async start(): Promise<void> {
    for (const dir of [this.#dir, this.#failDir, this.#doneDir]) if (dir) await mkdir(dir, { recursive: true });
    this.#watcher = watch(this.#dir, () => this.#schedule(20));
    this.#watcher.on('error', (err) => this.#log.warn({ err: err.message }, 'spool directory watch failed; rescans go on'));
    this.#rescan = setInterval(() => this.#schedule(0), RESCAN_MS);
    this.#log.info({ directory: this.#dir, failDirectory: this.#failDir, delay: this.#delayMs / 1000, remove: !this.#doneDir }, 'watching spool directory');
    this.#schedule(0);
  }

  /** Stops looking; files being injected finish (bounded by rabbitmq-publish-timeout). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    clearInterval(this.#rescan);
    clearTimeout(this.#soon);
    await this.#scanning;
    await Promise.allSettled(this.#active.values());
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.#scan();
    }, ms);
  }

  async #scan(): Promise<void> {
    if (this.#scanning) {
      this.#again = true;
      return;
    }
    this.#scanning = this.#scanOnce()
      .catch((err: Error) => this.#log.warn({ err: err.message }, 'spool directory scan failed'))
      .finally(() => {
        this.#scanning = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule(0);
        }
      });
    await this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    // a broker that is down would only give every file back: wait for the rescan after it returns
    if (this.#stopped || !this.#publisher.available) return;
    const entries = await readdir(this.#dir, { withFileTypes: true });
    const now = Date.now();
    for (const entry of entries) {
      if (this.#stopped || this.#active.size >= this.#openFiles) return;
      if (!entry.isFile()) continue;
      const name = entry.name;
      if (name.startsWith(`${CLAIM}.`)) {
        await this.#recoverClaim(name);
        continue;
      }
      if (name.startsWith('.') || this.#active.has(name)) continue;
      const retry = this.#retryAt.get(name);
      if (retry && retry.at > now) continue;
      if (this.#delayMs > 0) {
        const info = await stat(join(this.#dir, name)).catch(() => undefined);
        if (!info) continue;
        const left = info.mtimeMs + this.#delayMs - now;
        if (left > 0) {
          setTimeout(() => this.#schedule(0), left + 5).unref();
          continue;
        }
      }
      const job = this.#inject(name).finally(() => {
        this.#active.delete(name);
        this.#schedule(0);
      });
      this.#active.set(name, job);
    }
  }

  /** Claims `name` by rename, injects it, and removes, moves or gives it back. */
  async #inject(name: string): Promise<void> {
    const original = join(this.#dir, name);
    const claimed = this.#claimName(name);
    try {
      await rename(original, claimed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.warn({ file: name, err: (err as Error).message }, 'spool file could not be claimed');
      return; // another process claimed it first
    }
    const log = this.#log.child({ file: name });
    let mids: string[];
    try {
      const info = await stat(claimed);
      if (info.size > this.#maxSize) throw new InjectInputError(`${info.size} bytes is more than smtp-maxsize (${this.#maxSize})`);
      const input = await readFile(claimed);
      const spool = { directory: this.#dir, file: name, user: userName(info.uid), size: input.length };
      const batches = await this.#injector.compose({ input, origin: { spool }, extract: this.#extract });
      mids = batches.flatMap((b) => b.documents.map((d) => d['message-id']));
      try {
        await this.#injector.publish(this.#publisher, batches, log);
      } catch (err) {
        await this.#giveBack(claimed, name, log);
        const retry = this.#retryAt.get(name);
        const wait = Math.min(RETRY_MAX_MS, retry ? retry.wait * 2 : RETRY_MS);
        this.#retryAt.set(name, { at: Date.now() + wait, wait });
        log.warn({ err: (err as Error).message, retryIn: wait / 1000 }, 'spool file not injected, tried again later');
        return;
      }
    } catch (err) {
      await this.#fail(claimed, name, (err as Error).message, log);
      return;
    }
    this.#retryAt.delete(name);
    log.info({ mids, rcpts: mids.length }, 'spool file injected');
    try {
      if (this.#doneDir) await rename(claimed, await freeName(this.#doneDir, name));
      else await unlink(claimed);
    } catch (err) {
      // left as a claim of a live process: never injected twice; the operator sees it in the log
      log.error({ err: (err as Error).message, claimed }, 'injected spool file could not be removed');
    }
  }

  /** A file that cannot become a message: into the fail directory, with its reason beside it. */
  async #fail(claimed: string, name: string, reason: string, log: Logger): Promise<void> {
    this.#retryAt.delete(name);
    try {
      const target = await freeName(this.#failDir, name);
      await move(claimed, target);
      // the reason appears whole (written aside, renamed in), for whoever watches that directory
      const reasonFile = `${target}.reason`;
      const temp = join(this.#failDir, `.${randomBytes(4).toString('hex')}.reason`);
      await writeFile(temp, `${reason}\n`);
      await rename(temp, reasonFile);
      log.error({ reason, moved: target }, 'spool file not injected, moved to spool-fail-directory');
    } catch (err) {
      log.error({ reason, err: (err as Error).message, claimed }, 'spool file not injected and could not be moved to spool-fail-directory');
    }
  }

  /** Back under its own name (or a fresh one, when a new file of that name arrived meanwhile). */
  async #giveBack(claimed: string, name: string, log: Logger): Promise<void> {
    try {
      try {
        await link(claimed, join(this.#dir, name));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        await link(claimed, join(this.#dir, `${name}.${randomBytes(4).toString('hex')}`));
      }
      await unlink(claimed);
    } catch (err) {
      log.error({ err: (err as Error).message, claimed }, 'spool file could not be given back');
    }
  }

  #claimName(name: string): string {
    return join(this.#dir, `${CLAIM}.${this.#host}.${process.pid}.${randomBytes(4).toString('hex')}.${name}`);
  }

  /** A claim of a process of this host that no longer runs is given back for another try. */
  async #recoverClaim(claimName: string): Promise<void> {
    const [, , host, pid, , ...rest] = claimName.split('.');
    const name = rest.join('.');
    if (host !== this.#host || !pid || !name || Number(pid) === process.pid || isAlive(Number(pid))) return;
    // other watchers may find the same stale claim: it is claimed again by rename, so one gives it back
    const ours = this.#claimName(name);
    try {
      await rename(join(this.#dir, claimName), ours);
    } catch {
      return;
    }
    this.#log.warn({ file: name, pid: Number(pid) }, 'spool file claimed by a process that is gone: given back');
    await this.#giveBack(ours, name, this.#log);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `dir/name`, or `dir/name.<random>` when that exists already. */
async function freeName(dir: string, name: string): Promise<string> {
  const plain = join(dir, name);
  const exists = await stat(plain).then(
    () => true,
    () => false,
  );
  return exists ? `${plain}.${randomBytes(4).toString('hex')}` : plain;
}

/** rename, or copy and unlink when the target is on another file system. */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await copyFile(from, to);
    await unlink(from);
  }
}
