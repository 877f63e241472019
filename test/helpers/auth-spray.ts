import { SmtpTalk } from './smtp.js';

export interface SprayResult {
  /** Passwords the server checked and refused (535) before the budget ran out. */
  checks: number;
  /** Attempts refused unchecked by the per-address throttle (454). */
  throttled: number;
  /** Milliseconds from the first attempt to the last answer (at most the budget). */
  elapsedMs: number;
  /** checks per second over elapsedMs. */
  perSecond: number;
}

const plain = (user: string, pass: string): string => Buffer.from(`\0${user}\0${pass}`).toString('base64');

/**
 * A password spray against one account: one connection per source address, each trying
 * `attempts` wrong passwords one after another, all addresses at once. Stops sending at the
 * budget; an answer later than it is not counted.
 */
export async function spray(options: {
  port: number;
  host?: string;
  addresses: string[];
  attempts: number;
  user: string;
  budgetMs: number;
}): Promise<SprayResult> {
  const started = Date.now();
  const deadline = started + options.budgetMs;
  let checks = 0;
  let throttled = 0;
  let last = started;
  await Promise.all(
    options.addresses.map(async (address, a) => {
      let smtp: SmtpTalk | undefined;
      try {
        smtp = await SmtpTalk.connect(options.port, options.host ?? '127.0.0.1', { localAddress: address });
        await smtp.read();
        await smtp.command('EHLO spray.example');
        for (let i = 0; i < options.attempts && Date.now() < deadline; i++) {
          const reply = await smtp.command(`AUTH PLAIN ${plain(options.user, `guess-${a}-${i}`)}`, Math.max(1, deadline - Date.now()));
          if (Date.now() > deadline) break;
          last = Math.max(last, Date.now());
          if (reply.code === 535) checks++;
          else if (reply.code === 454) {
            throttled++;
            break;
          } else break;
        }
      } catch {
        // no answer within the budget: that attempt is not counted
      } finally {
        smtp?.quit().catch(() => undefined);
      }
    }),
  );
  const elapsedMs = Math.max(1, Math.min(options.budgetMs, last - started));
  return { checks, throttled, elapsedMs, perSecond: (checks * 1000) / elapsedMs };
}

/** The real user logging in: milliseconds until the 235 (or the reply code if it was not 235). */
export async function realLogin(port: number, from: string, user: string, pass: string, timeoutMs = 60_000): Promise<{ code: number; ms: number }> {
  const smtp = await SmtpTalk.connect(port, '127.0.0.1', { localAddress: from });
  await smtp.read();
  await smtp.command('EHLO real.example');
  const started = Date.now();
  const reply = await smtp.command(`AUTH PLAIN ${plain(user, pass)}`, timeoutMs);
  const ms = Date.now() - started;
  await smtp.quit();
  return { code: reply.code, ms };
}

/** `count` loopback source addresses 127.0.(base+i/250).(i%250+2). */
export function loopbackAddresses(count: number, base = 100): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.${base + Math.floor(i / 250)}.${(i % 250) + 2}`);
}
