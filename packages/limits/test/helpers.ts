import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '@mtaq/log';
import { schema } from '@mtaq/config';
import type { LimitRule } from '../src/index.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export const parseRules = (text: string): readonly LimitRule[] => schema['delivery-limits'].type.parse(text);

/** A key prefix no other test (or concurrent run) uses. */
export function uniquePrefix(): string {
  return `mtaq-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

export function inspector(url = REDIS_URL): Redis {
  return new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = inspector(url);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

export { freePort } from '../../../test/helpers/ports.js';
export { startRedis } from '../../../test/helpers/redis.js';

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

export interface LogRecord {
  readonly level: string;
  readonly msg: string;
}

/** Just enough of a pino Logger to see what was logged at which level. */
export function recordingLogger(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at =
    (level: string) =>
    (...args: unknown[]): void => {
      const msg = args.find((a): a is string => typeof a === 'string') ?? '';
      records.push({ level, msg });
    };
  const logger = {
    level: 'debug',
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: () => logger,
  };
  return { logger: logger as unknown as Logger, records };
}
