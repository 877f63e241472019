/**
 * A real SpamAssassin spamd (Debian package `spamd`, rules from `spamassassin`) on 127.0.0.1 and a
 * free port, so the spamd client is tested against the genuine protocol and real verdicts.
 *
 * Command line, and why:
 *   -L / --local            no DNS or network tests: this machine has no DNS, and verdicts stay the same
 *   -x / --nouser-config    no per-user prefs: nothing under a home directory decides a verdict
 *   --cf='use_bayes 0'      Bayes would try to learn into ~/.spamassassin of the user spamd runs as
 *                           (nobody's home is /nonexistent: a warning per message) and change scores
 *                           once trained
 *   --max-children 2 ...    every child holds the compiled rules (~100 MB); one spare keeps a child
 *                           ready after a paused one
 *   -u nobody               only as root: without it spamd warns on every connection and falls back
 *                           to nobody itself
 *   -s stderr               logs to stderr, which goes to spamd.log in the temp dir (no pipe to fill)
 *   -r <dir>/spamd.pid      pid file in the temp dir, never /run
 */

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, chownSync, closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface Spamd {
  host: string;
  port: number;
  /** The spamd parent; its children are found by their parent pid. */
  pid: number;
  stop(): Promise<void>;
  /** SIGSTOP to the parent and every child: connections are accepted by the kernel, never answered. */
  pause(): void;
  resume(): void;
}

const SPAMD = '/usr/sbin/spamd';
/** spamd reads and compiles the whole rule set before it listens: seconds, more on a loaded CI. */
const START_TIMEOUT_MS = 60_000;

function findSpamd(): string {
  try {
    accessSync(SPAMD, constants.X_OK);
    return SPAMD;
  } catch {
    throw new Error('spamd not found: install the Debian packages spamd and spamassassin (bash scripts/test-env.sh)');
  }
}

/** Direct children of `pid`, from /proc (pgrep would need procps). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

/** spamd's PING; true only for its PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('connect', () => socket.end('PING SPAMC/1.5\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(/^SPAMD\/[\d.]+ 0 PONG\r\n/.test(reply));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

async function startOnce(binary: string, dir: string, asRoot: boolean): Promise<Spamd | undefined> {
  const port = await freePort();
  const log = join(dir, 'spamd.log');
  const args = [
    '-L',
    '-x',
    '--cf=use_bayes 0',
    '-i',
    '127.0.0.1',
    '-p',
    String(port),
    '-A',
    '127.0.0.1',
    '--max-children=2',
    '--min-children=1',
    '--min-spare=1',
    '--max-spare=1',
    '-s',
    'stderr',
    '-r',
    join(dir, 'spamd.pid'),
    ...(asRoot ? ['-u', 'nobody'] : []),
  ];
  const logFd = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, { stdio: ['ignore', logFd, logFd], env: { ...process.env, HOME: dir } });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  let exited = false;
  const exit = once(child, 'exit').then(() => {
    exited = true;
  });
  const readLog = (): string => {
    try {
      return readFileSync(log, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (pid !== undefined && !exited && Date.now() < deadline) {
    if (await pong(port)) {
      let stopped = false;
      const all = (): number[] => [pid, ...childrenOf(pid)];
      // a test file killed by the runner's timeout runs no after(): spamd must not outlive it
      const onExit = (): void => signal(all(), 'SIGKILL');
      process.on('exit', onExit);
      return {
        host: '127.0.0.1',
        port,
        pid,
        pause() {
          // the parent first, so it spawns no fresh child while its children stop
          signal(all(), 'SIGSTOP');
        },
        resume() {
          signal(all(), 'SIGCONT');
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          process.off('exit', onExit);
          const children = childrenOf(pid);
          if (!exited) {
            // a stopped process only acts on SIGTERM once continued
            signal([pid, ...children], 'SIGCONT');
            signal([pid], 'SIGTERM');
            const timer = setTimeout(() => signal([pid], 'SIGKILL'), 5000);
            await exit;
            clearTimeout(timer);
          }
          // the parent reaps its children on SIGTERM; after a SIGKILL they would linger
          signal(children, 'SIGKILL');
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!exited) {
    signal([...(pid === undefined ? [] : [pid, ...childrenOf(pid)])], 'SIGKILL');
    await exit;
    throw new Error(`spamd did not answer PING on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${readLog()}`);
  }
  if (/address already in use/i.test(readLog())) return undefined;
  throw new Error(`spamd exited (${child.exitCode ?? child.signalCode}): ${readLog()}`);
}

export async function startSpamd(): Promise<Spamd> {
  const binary = findSpamd();
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-spamd-'));
  const asRoot = process.getuid?.() === 0;
  try {
    if (asRoot) {
      // the children run as nobody and may write temporary files under HOME
      const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const started = await startOnce(binary, dir, asRoot);
      if (started !== undefined) return started;
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('spamd: no free port after 5 attempts');
}
