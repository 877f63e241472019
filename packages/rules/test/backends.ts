import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The system PostgreSQL the tests use (trust auth; scripts/test-env.sh starts it). */
export const PG_ADMIN = process.env['MTAQ_TEST_PG'] ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/**
 * One database for a test file, and a way to make it unreachable and reachable again for a
 * second address (`flaky`): for SQLite a file swapped for garbage, for PostgreSQL a TCP relay to
 * the server that is closed and reopened (the system server keeps running).
 */
export interface Backend {
  readonly name: 'sqlite' | 'postgresql';
  /** A fresh, empty database: address. */
  fresh(): Promise<string>;
  /** An address that works until `breakIt()` and again after `heal()`; starts broken when `startBroken`. */
  flaky(startBroken: boolean): Promise<{ address: string; breakIt(): Promise<void>; heal(): Promise<void> }>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'mtaq-rules-'));
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      return `sqlite://${join(dir, `db${++n}`, 'rules.sqlite')}`;
    },
    async flaky(startBroken) {
      const sub = join(dir, `flaky${++n}`);
      const file = join(sub, 'rules.sqlite');
      const aside = join(dir, `flaky${n}.aside`);
      // Broken = the file's directory is a plain file: nothing can be opened or created there.
      const breakIt = async (): Promise<void> => {
        renameSync(sub, aside);
        writeFileSync(sub, 'not a directory');
      };
      const heal = async (): Promise<void> => {
        rmSync(sub, { force: true });
        renameSync(aside, sub);
      };
      if (startBroken) {
        const { mkdirSync } = await import('node:fs');
        mkdirSync(aside);
        writeFileSync(sub, 'not a directory');
      }
      return { address: `sqlite://${file}`, breakIt, heal };
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  const prefix = `mtaq_rules_${process.pid}_${Date.now() % 100000}`;
  const made: string[] = [];
  const relays: Array<() => Promise<void>> = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: PG_ADMIN });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const base = new URL(PG_ADMIN);
  const addressOf = (db: string, port = base.port || '5432'): string => `postgresql://${base.username}@${base.hostname}:${port}/${db}`;
  let n = 0;
  const create = async (): Promise<string> => {
    const db = `${prefix}_${++n}`;
    await admin((c) => c.query(`create database ${db}`));
    made.push(db);
    return db;
  };
  return {
    name: 'postgresql',
    async fresh() {
      return addressOf(await create());
    },
    async flaky(startBroken) {
      const db = await create();
      const sockets = new Set<Socket>();
      let server: Server | undefined;
      let port = 0;
      const listen = (): Promise<void> =>
        new Promise((resolve, reject) => {
          server = createServer((client) => {
            const upstream = connect(Number(base.port || 5432), base.hostname);
            sockets.add(client).add(upstream);
            const drop = (): void => {
              client.destroy();
              upstream.destroy();
              sockets.delete(client);
              sockets.delete(upstream);
            };
            client.on('error', drop).on('close', drop);
            upstream.on('error', drop).on('close', drop);
            client.pipe(upstream).pipe(client);
          });
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            port = (server!.address() as { port: number }).port;
            resolve();
          });
        });
      const breakIt = async (): Promise<void> => {
        const s = server;
        server = undefined;
        for (const sock of sockets) sock.destroy();
        sockets.clear();
        if (s !== undefined) await new Promise<void>((r) => s.close(() => r()));
      };
      await listen(); // learns a free port
      if (startBroken) await breakIt();
      relays.push(breakIt);
      return { address: addressOf(db, String(port)), breakIt, heal: listen };
    },
    async cleanup() {
      for (const stop of relays) await stop();
      await admin(async (c) => {
        for (const db of made) await c.query(`drop database if exists ${db} with (force)`);
      });
    },
  };
}
