import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, fail, ok, precheck, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';

/** Variables of our own environment a checker may legitimately need; nothing else leaks into it. */
const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/**
 * `exec:///path/to/program`: runs the program with no arguments (argv is visible to every user
 * via ps) and hands it the credentials twice, as `SMTP_USER`, `SMTP_PASSWORD`, `SMTP_CLIENT_IP` in
 * the environment and as `user\npassword\n` on stdin. Exit 0 accepts, any other exit code rejects.
 *
 * The environment is built from scratch (plus PATH, HOME, locale, TZ, TMPDIR) so that secrets in
 * our own environment, such as broker credentials, never reach the program. A program that outlives
 * the timeout is killed with its whole process group and the login is 'unavailable'; so is one that
 * cannot be started or dies from a signal, because none of those says the password was wrong.
 */
export class ExecBackend implements AuthBackend {
  readonly name = 'exec';
  readonly plainSecrets = false;
  readonly #program: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger;

  constructor(url: string, options: { timeout: number; logger?: Logger }) {
    let program: string;
    try {
      program = fileURLToPath(url.replace(/^exec:/i, 'file:'));
    } catch (error) {
      throw new AuthConfigError(`${url}: expected exec:///absolute/path/to/program`, { cause: error });
    }
    if (!isAbsolute(program)) throw new AuthConfigError(`${url}: the program path must be absolute`);
    try {
      accessSync(program, constants.X_OK);
    } catch (error) {
      throw new AuthConfigError(`${url}: ${program} is not an executable file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
        cause: error,
      });
    }
    this.#program = program;
    this.#timeoutMs = Math.max(1, options.timeout * 1000);
    this.#logger = options.logger ?? silentLogger;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, false);
    if (rejected) return rejected;
    const password = request.password ?? '';
    // Environment strings cannot carry NUL; such a password could never have been typed anyway.
    if (request.username.includes('\0') || password.includes('\0')) return fail('invalid', 'NUL in credentials');
    const env: Record<string, string> = {};
    for (const key of PASSED_THROUGH) {
      const value = process.env[key];
      if (value !== undefined) env[key] = value;
    }
    env['SMTP_USER'] = request.username;
    env['SMTP_PASSWORD'] = password;
    env['SMTP_CLIENT_IP'] = request.remoteAddress;

    return new Promise<AuthResult>((resolve) => {
      let settled = false;
      const finish = (result: AuthResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      // detached: the program leads its own process group, so a timeout kills its children too
      // (a shell script's `sleep` would otherwise keep running and hold our pipes open).
      const child = spawn(this.#program, [], { env, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
      const timer = setTimeout(() => {
        killGroup(child.pid);
        this.#logger.warn({ backend: 'exec', program: this.#program, user: request.username }, 'auth program timed out; killed');
        finish(fail('unavailable', `no exit within ${this.#timeoutMs / 1000} s`));
      }, this.#timeoutMs);
      child.once('error', (error) => {
        this.#logger.error({ backend: 'exec', program: this.#program, err: error }, 'auth program could not run');
        finish(fail('unavailable', (error as NodeJS.ErrnoException).code ?? error.message));
      });
      child.once('exit', (code, signal) => {
        if (code === 0) finish(ok(request.username));
        else if (code !== null) finish(fail('invalid', `exit code ${code}`));
        else {
          this.#logger.warn({ backend: 'exec', program: this.#program, signal }, 'auth program killed by a signal');
          finish(fail('unavailable', `killed by ${signal ?? 'a signal'}`));
        }
      });
      // A program that never reads stdin may exit before we finish writing: EPIPE is not an error.
      child.stdin.once('error', () => undefined);
      child.stdin.end(`${request.username}\n${password}\n`);
    });
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
