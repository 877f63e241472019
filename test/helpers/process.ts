import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'apps', 'cli', 'dist', 'main.js');

export interface Listener {
  address: string;
  port: number;
  secure: boolean;
}

export interface MtaqProcess {
  readonly child: ChildProcess;
  readonly listeners: Listener[];
  /** Every JSON log line so far. */
  readonly logs: Array<Record<string, unknown>>;
  readonly stderr: () => string;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * A config file of the test's own, so ./etc/mtaq.conf never leaks into a test; unless the test
 * names one, a rule database of its own too (the built-in default is one file for the whole host).
 */
export function writeConfig(text: string): string {
  const file = writeTempFile(text, 'mtaq.conf');
  if (/^\s*database-address\s*:/m.test(text)) return file;
  writeFileSync(file, `${text}\ndatabase-address: sqlite://${join(dirname(file), 'rules.sqlite')}\n`);
  return file;
}

/** Any other file a test hands to mtaq (passwd files, CSV), alone in a temporary directory. */
export function writeTempFile(text: string, name = 'data'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mtaq-test-')), name);
  writeFileSync(file, text);
  return file;
}

/** Runs the compiled CLI to completion; returns exit code and output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/** Starts `mtaq <command> ...args` and waits for its `listening` log line. */
export async function startMtaq(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; ready?: string } = {},
): Promise<MtaqProcess> {
  const ready = options.ready ?? (command === 'delivery' ? 'delivering' : 'listening');
  const child = spawn(process.execPath, [CLI, command, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const listening = new Promise<Listener[]>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`mtaq ${command} did not start:\n${stderr}`)), options.timeoutMs ?? 15000);
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry['msg'] === ready) {
            clearTimeout(timer);
            resolvePromise((entry['listeners'] as Listener[] | undefined) ?? []);
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mtaq ${command} exited with ${code}:\n${stderr}`));
    });
  });
  const listeners = await listening;
  return {
    child,
    listeners,
    logs,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode;
      if (child.signalCode !== null) return child.signalCode;
      const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
      child.kill(signal);
      const [code, sig] = await exited;
      return code ?? sig ?? -1;
    },
  };
}
