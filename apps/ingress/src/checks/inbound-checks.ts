import type { Config } from '@mtaq/config';
import type { CheckResult } from '@mtaq/envelope';
import { SpamdClient } from '@mtaq/spamd';
import type { DmarcVerdict, SenderAuthOutcome, SenderCheck, SessionFacts } from './sender-auth.js';
import { SenderAuthThread } from './sender-auth-thread.js';
import { checkSpam, type SpamVerdict } from './spam-check.js';

export interface CheckInput {
  /** The message exactly as the client sent it: what DKIM signatures cover. */
  readonly message: Buffer;
  /**
   * The message as it will be stored (x-mq-* headers and Authentication-Results forged in our
   * name removed): what spamd judges, so a forged `spf=pass` under our name earns no trust there.
   */
  readonly stored: Buffer;
  /** Our Received: field, put before the message for spamd (it judges the path it came by). */
  readonly trace: Buffer;
  readonly session: SessionFacts;
  /** Logged-in submissions are our own users' mail: their path is not judged (see README). */
  readonly authenticated: boolean;
}

export interface ChecksOutcome {
  /** The JSON `checks` array (reference §3), in the order spf, dkim…, arc, dmarc, spam. */
  readonly entries: CheckResult[];
  readonly dmarc: DmarcVerdict | undefined;
  readonly spam: SpamVerdict | undefined;
}

const SENDER_CHECKS: readonly SenderCheck[] = ['spf', 'dkim', 'arc', 'dmarc'];

/** Past the budget the thread has nothing left to wait for; this guards against a stuck or busy one. */
const BACKSTOP_MS = 1000;

/**
 * The `smtp-check` stage: after DATA, before publishing. The sender checks (mailauth) and spamd run
 * at the same time and share one budget, `smtp-check-timeout`: whatever is still waiting when it
 * runs out is a temperror, and the message goes on. DNS answers come from a cache kept for the
 * life of the process, on `dns-servers` like delivery's.
 */
export class InboundChecks {
  readonly #sender: ReadonlySet<SenderCheck>;
  readonly #spamd: SpamdClient | undefined;
  readonly #thread: SenderAuthThread | undefined;
  readonly #budgetMs: number;
  readonly #maxSpamSize: number;

  private constructor(config: Config) {
    const checks = config['smtp-check'];
    this.#sender = new Set(SENDER_CHECKS.filter((c) => checks.includes(c)));
    this.#spamd = checks.includes('spam') ? new SpamdClient({ host: config['spamassassin-host'], port: config['spamassassin-port'] }) : undefined;
    this.#thread =
      this.#sender.size > 0
        ? new SenderAuthThread({
            checks: [...this.#sender],
            resolver: { 'dns-servers': config['dns-servers'], 'dns-timeout': config['dns-timeout'], 'dns-attempts': config['dns-attempts'] },
            minTtl: config['dns-min-ttl'],
          })
        : undefined;
    this.#budgetMs = Math.round(config['smtp-check-timeout'] * 1000);
    this.#maxSpamSize = config['spamassassin-maxsize'];
  }

  /** Undefined when `smtp-check` is empty: nothing to run. */
  static fromConfig(config: Config): InboundChecks | undefined {
    return config['smtp-check'].length > 0 ? new InboundChecks(config) : undefined;
  }

  async run(input: CheckInput): Promise<ChecksOutcome> {
    const deadline = Date.now() + this.#budgetMs;
    const budget = AbortSignal.timeout(this.#budgetMs);
    const sender = input.authenticated || !this.#thread ? undefined : this.#senderChecks(this.#thread, input, deadline);
    const spam = this.#spamd
      ? checkSpam(this.#spamd, [input.trace, input.stored], { maxSize: this.#maxSpamSize, budget, timeoutMs: this.#budgetMs })
      : undefined;
    const [auth, spamOutcome] = await Promise.all([sender, spam]);
    const entries = [...(auth?.entries ?? []), ...(spamOutcome ? [spamOutcome.entry] : [])];
    return { entries, dmarc: auth?.dmarc, spam: spamOutcome?.verdict };
  }

  /** Stops the checks thread; messages still being checked get temperror. */
  async close(): Promise<void> {
    await this.#thread?.close();
  }

  /** The thread's answer, or temperror for every sender check if it has none within the budget (or died). */
  async #senderChecks(thread: SenderAuthThread, input: CheckInput, deadline: number): Promise<SenderAuthOutcome> {
    const failed = (reason: string): SenderAuthOutcome => ({
      entries: [...this.#sender].map((check): CheckResult => ({ [check]: 'temperror', reason })),
      dmarc: undefined,
    });
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<SenderAuthOutcome>((resolve) => {
      timer = setTimeout(() => resolve(failed('not finished within smtp-check-timeout')), deadline - Date.now() + BACKSTOP_MS);
    });
    const checked = thread.run(input.message, input.session, deadline).catch((error: Error) => failed(error.message));
    return Promise.race([checked, backstop]).finally(() => clearTimeout(timer));
  }
}
