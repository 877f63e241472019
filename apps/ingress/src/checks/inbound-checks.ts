import type { Config } from '@mtaq/config';
import { createResolver, DnsCache } from '@mtaq/dns';
import type { CheckResult } from '@mtaq/envelope';
import { SpamdClient } from '@mtaq/spamd';
import { budgetedResolver } from './dns-budget.js';
import { authenticateSender, type DmarcVerdict, type SenderCheck, type SessionFacts } from './sender-auth.js';
import { checkSpam, type SpamVerdict } from './spam-check.js';

export interface CheckInput {
  /** The message exactly as the client sent it: what DKIM signatures cover. */
  readonly message: Buffer;
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

/** Past the budget mailauth has nothing left to wait for; this only guards against a bug there. */
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
  readonly #cache: DnsCache;
  readonly #budgetMs: number;
  readonly #maxSpamSize: number;

  private constructor(config: Config) {
    const checks = config['smtp-check'];
    this.#sender = new Set(SENDER_CHECKS.filter((c) => checks.includes(c)));
    this.#spamd = checks.includes('spam') ? new SpamdClient({ host: config['spamassassin-host'], port: config['spamassassin-port'] }) : undefined;
    this.#cache = new DnsCache(createResolver(config), { minTtl: config['dns-min-ttl'] });
    this.#budgetMs = Math.round(config['smtp-check-timeout'] * 1000);
    this.#maxSpamSize = config['spamassassin-maxsize'];
  }

  /** Undefined when `smtp-check` is empty: nothing to run. */
  static fromConfig(config: Config): InboundChecks | undefined {
    return config['smtp-check'].length > 0 ? new InboundChecks(config) : undefined;
  }

  async run(input: CheckInput): Promise<ChecksOutcome> {
    const budget = AbortSignal.timeout(this.#budgetMs);
    const sender = input.authenticated || this.#sender.size === 0 ? undefined : this.#senderChecks(input, budget);
    const spam = this.#spamd
      ? checkSpam(this.#spamd, [input.trace, input.message], { maxSize: this.#maxSpamSize, budget, timeoutMs: this.#budgetMs })
      : undefined;
    const [auth, spamOutcome] = await Promise.all([sender, spam]);
    const entries = [...(auth?.entries ?? []), ...(spamOutcome ? [spamOutcome.entry] : [])];
    return { entries, dmarc: auth?.dmarc, spam: spamOutcome?.verdict };
  }

  #senderChecks(input: CheckInput, budget: AbortSignal): ReturnType<typeof authenticateSender> {
    const resolver = budgetedResolver(this.#cache, budget);
    const checks = authenticateSender(input.message, input.session, this.#sender, resolver, () => budget.aborted);
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<Awaited<typeof checks>>((resolve) => {
      timer = setTimeout(() => {
        const entries = [...this.#sender].map((check): CheckResult => ({ [check]: 'temperror', reason: 'not finished within smtp-check-timeout' }));
        resolve({ entries, dmarc: undefined });
      }, this.#budgetMs + BACKSTOP_MS);
    });
    return Promise.race([checks, backstop]).finally(() => clearTimeout(timer));
  }
}
