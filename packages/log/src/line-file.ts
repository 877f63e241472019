import { appendFileSync, constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';

/**
 * An append-only text file of one record per line (`send-log-file`, `received-log-file`).
 *
 * - Lines are buffered and written together at most `flushMs` after the first one of a batch.
 * - Rotation without copytruncate: before each batch the path is compared with the open file (device
 *   and inode); a file renamed or deleted away is closed and the path opened again (created). SIGHUP
 *   reopens every line file of the process at once, as logrotate's `postrotate kill -HUP` expects.
 * - A write error never reaches the caller: it is logged (once per streak), the lines are kept (up to
 *   `maxBufferedBytes`, the oldest dropped first and counted) and the write is tried again after
 *   `retryMs` on a freshly opened file.
 * - Lines still buffered when the process exits are appended synchronously from the 'exit' handler.
 * - Several processes may share a file: it is opened O_APPEND and each batch is one write.
 */
export interface LineFileOptions {
  readonly logger?: Logger;
  /** Longest a line waits in memory before it is written (default 100 ms). */
  readonly flushMs?: number;
  /** Wait after a failed write before the next try (default 1000 ms). */
  readonly retryMs?: number;
  /** Lines held while the file cannot be written; beyond it the oldest are dropped (default 16 MiB). */
  readonly maxBufferedBytes?: number;
  /** File mode of a created file (default 0o640). */
  readonly mode?: number;
}

const open_files = new Set<LineFile>();
let hupInstalled = false;
let exitInstalled = false;

function installProcessHooks(): void {
  if (!hupInstalled) {
    hupInstalled = true;
    process.on('SIGHUP', () => {
      for (const file of open_files) file.reopen();
    });
  }
  if (!exitInstalled) {
    exitInstalled = true;
    process.on('exit', () => {
      for (const file of open_files) file.flushSync();
    });
  }
}

export class LineFile {
  readonly path: string;
  readonly #log: Logger | undefined;
  readonly #flushMs: number;
  readonly #retryMs: number;
  readonly #maxBytes: number;
  readonly #mode: number;
  #lines: string[] = [];
  #bytes = 0;
  #dropped = 0;
  #handle: FileHandle | undefined;
  #opened: Stats | undefined;
  #reopen = false;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failing = false;
  #closed = false;

  constructor(path: string, options: LineFileOptions = {}) {
    this.path = path;
    this.#log = options.logger;
    this.#flushMs = options.flushMs ?? 100;
    this.#retryMs = options.retryMs ?? 1000;
    this.#maxBytes = options.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.#mode = options.mode ?? 0o640;
    open_files.add(this);
    installProcessHooks();
  }

  /** Appends one line (a line break inside it becomes a space); never throws. */
  write(line: string): void {
    if (this.#closed) return;
    const text = `${line.replace(/[\r\n]+/g, ' ')}\n`;
    this.#lines.push(text);
    this.#bytes += Buffer.byteLength(text);
    while (this.#bytes > this.#maxBytes && this.#lines.length > 1) {
      this.#bytes -= Buffer.byteLength(this.#lines.shift()!);
      this.#dropped++;
    }
    this.#schedule(this.#flushMs);
  }

  /** Closes the file before the next batch and opens the path again (SIGHUP, logrotate). */
  reopen(): void {
    this.#reopen = true;
    this.#schedule(0);
  }

  /** Resolves once the lines written so far are in the file (or the attempt to write them failed). */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#writing) await this.#writing;
    if (this.#lines.length === 0 && !this.#reopen) return;
    this.#writing = this.#writeBatch().finally(() => {
      this.#writing = undefined;
    });
    await this.#writing;
  }

  /** Writes what is left and closes the file; later lines are ignored. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#lines.length) this.flushSync();
    this.#closed = true;
    clearTimeout(this.#timer);
    open_files.delete(this);
    if (shared.get(this.path) === this) shared.delete(this.path);
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }

  /** For the process's 'exit' handler: appends the buffered lines synchronously. */
  flushSync(): void {
    if (this.#lines.length === 0) return;
    try {
      appendFileSync(this.path, this.#lines.join(''), { mode: this.#mode });
      this.#lines = [];
      this.#bytes = 0;
    } catch {
      // the process is going away: nothing more can be done
    }
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
    // the 'exit' handler writes what a timer would have: the log file never keeps a process alive
    this.#timer.unref();
  }

  async #writeBatch(): Promise<void> {
    const lines = this.#lines;
    const bytes = this.#bytes;
    const dropped = this.#dropped;
    this.#lines = [];
    this.#bytes = 0;
    this.#dropped = 0;
    try {
      await this.#ensureOpen();
      if (lines.length) {
        const data = Buffer.from(lines.join(''), 'utf8');
        let at = 0;
        while (at < data.length) at += (await this.#handle!.write(data, at)).bytesWritten;
      }
      if (this.#failing) this.#log?.info({ file: this.path }, 'log file writable again');
      if (dropped) this.#log?.warn({ file: this.path, dropped }, 'log file lines dropped while it could not be written');
      this.#failing = false;
    } catch (err) {
      // keep the lines (newer ones behind them) and try again on a freshly opened file
      this.#lines = [...lines, ...this.#lines];
      this.#bytes += bytes;
      this.#dropped += dropped;
      await this.#closeHandle();
      if (!this.#failing) this.#log?.warn({ file: this.path, err: (err as Error).message, retryMs: this.#retryMs }, 'cannot write the log file; retrying');
      this.#failing = true;
      if (!this.#closed) {
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.flush();
        }, this.#retryMs);
        this.#timer.unref();
      }
    }
  }

  async #ensureOpen(): Promise<void> {
    if (this.#handle && !this.#reopen) {
      // rotated away (renamed or deleted): the path no longer names the file we hold
      const now = await stat(this.path).catch(() => undefined);
      if (now && this.#opened && now.ino === this.#opened.ino && now.dev === this.#opened.dev) return;
    }
    this.#reopen = false;
    await this.#closeHandle();
    const handle = await open(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, this.#mode);
    try {
      this.#opened = await handle.stat();
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    this.#handle = handle;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#opened = undefined;
    await handle?.close().catch(() => undefined);
  }
}

const shared = new Map<string, LineFile>();

/**
 * The process's one LineFile for `path` (resolved against the working directory), opened on first
 * use: the send and received logs may name the same file (`mtaq pipeline`) without two buffers.
 */
export function openLineFile(path: string, options: LineFileOptions = {}): LineFile {
  const key = resolve(path);
  let file = shared.get(key);
  if (!file) {
    file = new LineFile(key, options);
    shared.set(key, file);
  }
  return file;
}
