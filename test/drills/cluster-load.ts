/**
 * The cluster drills' load client: N messages through HAProxy's front over `concurrency` SMTP
 * connections, each message tagged with a token (X-Drill-Id, Message-ID, r-TOKEN@ recipient) that
 * the drill sink (sink.ts) counts per arrival.
 *
 * A client that is told "try later" retries, as a real one would: a 4xx reply or a broken
 * connection makes it reconnect and send the message again. A retry after the final dot was sent
 * (a 451 to the dot, or no reply at all) may duplicate the message — the ingress may have
 * published it before it failed to say so — so those tokens are remembered: their extra arrivals
 * are "duplicates by client retry", not by delivery.
 */

import { SmtpTalk } from '../helpers/smtp.js';

export interface LoadOptions {
  readonly port: number;
  readonly host?: string;
  readonly total: number;
  /** Token prefix, unique per run. */
  readonly prefix: string;
  readonly concurrency?: number;
  /** Give up on a message after this many attempts. Default 60. */
  readonly maxAttempts?: number;
  /**
   * Extra header lines for message `n` (e.g. `x-mq-pool: node1`), put before the drill's own;
   * the ingress turns x-mq-* headers of a trusted client into JSON properties.
   */
  readonly headers?: (n: number) => string[];
  /** Called after every accepted message with the count so far. */
  readonly onAccepted?: (accepted: number) => void;
}

export interface LoadResult {
  /** Tokens that got a 250 to their final dot. */
  readonly accepted: Set<string>;
  /** Tokens retried after their dot was sent (reply 4xx or none): a later duplicate is the client's. */
  readonly retriedAfterDot: Map<string, number>;
  /** Every retry (any 4xx or broken connection at any step). */
  readonly retries: number;
  /** Of those, retries after a 451 reply (at any step). */
  readonly retriesAfter451: number;
  /** Permanent refusals (5xx) and messages given up after maxAttempts. */
  readonly refused: number;
  readonly givenUp: number;
  readonly seconds: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function tokenOf(prefix: string, n: number): string {
  return `${prefix}-${n}`;
}

function body(token: string, extra: string[] = []): string {
  return [
    ...extra,
    `From: <s-${token}@drill.test>`,
    `To: <r-${token}@x.test>`,
    `Subject: cluster drill ${token}`,
    `Message-ID: <${token}@drill.test>`,
    `X-Drill-Id: ${token}`,
    '',
    `cluster drill message ${token}`,
    'x'.repeat(400),
    '',
  ].join('\r\n');
}

class TemporaryFailure extends Error {
  constructor(
    readonly code: number | undefined,
    readonly afterDot: boolean,
  ) {
    super(`temporary failure ${code ?? 'connection'}${afterDot ? ' after the dot' : ''}`);
  }
}

class PermanentFailure extends Error {}

export async function sendLoad(options: LoadOptions): Promise<LoadResult> {
  const started = Date.now();
  const accepted = new Set<string>();
  const retriedAfterDot = new Map<string, number>();
  let retries = 0;
  let retriesAfter451 = 0;
  let refused = 0;
  let givenUp = 0;
  let next = 0;
  const maxAttempts = options.maxAttempts ?? 60;

  const connect = async (): Promise<SmtpTalk> => {
    const talk = await SmtpTalk.connect(options.port, options.host ?? '127.0.0.1');
    try {
      const greeting = await talk.read(10000);
      if (greeting.code !== 220) throw new TemporaryFailure(greeting.code, false);
      const ehlo = await talk.command('EHLO load.drill.test', 10000);
      if (ehlo.code !== 250) throw new TemporaryFailure(ehlo.code, false);
      return talk;
    } catch (error) {
      await talk.quit().catch(() => undefined);
      throw error instanceof TemporaryFailure ? error : new TemporaryFailure(undefined, false);
    }
  };

  /** One attempt at one message on `talk`; throws TemporaryFailure / PermanentFailure. */
  const attempt = async (talk: SmtpTalk, token: string, headers: string[]): Promise<void> => {
    const step = async (line: string, expect: number): Promise<void> => {
      let reply;
      try {
        reply = await talk.command(line, 20000);
      } catch {
        throw new TemporaryFailure(undefined, false);
      }
      if (reply.code === expect) return;
      if (reply.code >= 500) throw new PermanentFailure(`${line.split(':')[0]}: ${reply.code} ${reply.text}`);
      throw new TemporaryFailure(reply.code, false);
    };
    await step(`MAIL FROM:<s-${token}@drill.test>`, 250);
    await step(`RCPT TO:<r-${token}@x.test>`, 250);
    await step('DATA', 354);
    let reply;
    try {
      reply = await talk.command(`${body(token, headers)}.`, 30000);
    } catch {
      throw new TemporaryFailure(undefined, true);
    }
    if (reply.code === 250) return;
    if (reply.code >= 500) throw new PermanentFailure(`DATA: ${reply.code} ${reply.text}`);
    throw new TemporaryFailure(reply.code, true);
  };

  const worker = async (): Promise<void> => {
    let talk: SmtpTalk | undefined;
    try {
      for (;;) {
        const n = next++;
        if (n >= options.total) return;
        const token = tokenOf(options.prefix, n);
        const headers = options.headers?.(n) ?? [];
        for (let tries = 1; ; tries++) {
          try {
            talk ??= await connect();
            await attempt(talk, token, headers);
            accepted.add(token);
            options.onAccepted?.(accepted.size);
            break;
          } catch (error) {
            if (error instanceof PermanentFailure) {
              refused++;
              await talk?.command('RSET').catch(() => undefined);
              break;
            }
            const failure = error as TemporaryFailure;
            await talk?.quit().catch(() => undefined);
            talk = undefined;
            if (tries >= maxAttempts) {
              givenUp++;
              break;
            }
            retries++;
            if (failure.code === 451) retriesAfter451++;
            if (failure.afterDot) retriedAfterDot.set(token, (retriedAfterDot.get(token) ?? 0) + 1);
            await sleep(Math.min(2000, 100 * tries));
          }
        }
      }
    } finally {
      await talk?.quit().catch(() => undefined);
    }
  };

  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, () => worker()));
  return { accepted, retriedAfterDot, retries, retriesAfter451, refused, givenUp, seconds: (Date.now() - started) / 1000 };
}
