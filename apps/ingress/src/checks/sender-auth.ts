import type { CheckResult } from '@mtaq/envelope';
import { arc as verifyArc, dkimVerify, dmarc as verifyDmarc, spf as verifySpf, type ARCData, type ARCResult, type DKIMResult, type DKIMVerifyResult, type DNSResolver, type SPFResult } from 'mailauth';

export type SenderCheck = 'spf' | 'dkim' | 'dmarc' | 'arc';

/** Who handed us the message: what SPF judges. */
export interface SessionFacts {
  /** The client's address (the PROXY client behind HAProxy). */
  readonly ip: string;
  /** The EHLO/HELO name. */
  readonly helo: string;
  /** MAIL FROM; '' for the null sender. */
  readonly sender: string;
  /** Our name: the authserv-id, and the receiver in SPF's explanations. */
  readonly hostname: string;
}

/** The DMARC outcome smtp-check-reject decides on. */
export interface DmarcVerdict {
  readonly result: string;
  readonly domain: string;
  /** The policy that applies to this From domain (sp= for a subdomain where published). */
  readonly policy: string | undefined;
  /** pct=, the share of failing mail the policy is meant for. */
  readonly pct: number | undefined;
}

export interface SenderAuthOutcome {
  readonly entries: CheckResult[];
  readonly dmarc: DmarcVerdict | undefined;
}

/**
 * SPF, DKIM, ARC and DMARC with mailauth, as `checks` entries (reference §3; RFC 8601 words).
 * SPF and DKIM run at the same time; ARC and DMARC then need their results. DMARC needs SPF and
 * DKIM even when those are not listed, so they are computed but only listed entries are reported.
 * `expired` says the time budget ran out: a DNS failure then reads as temperror everywhere.
 */
export async function authenticateSender(
  message: Buffer,
  facts: SessionFacts,
  checks: ReadonlySet<SenderCheck>,
  resolver: DNSResolver,
  expired: () => boolean,
): Promise<SenderAuthOutcome> {
  const needDkim = checks.has('dkim') || checks.has('dmarc') || checks.has('arc');
  const needSpf = checks.has('spf') || checks.has('dmarc');
  const [dkim, spf] = await Promise.all([
    needDkim ? dkimVerify(message, { resolver, sender: facts.sender || undefined }) : undefined,
    needSpf ? verifySpf({ ip: facts.ip, helo: spfHelo(facts.helo), sender: facts.sender || undefined, mta: facts.hostname, resolver }) : undefined,
  ]);
  const arcData = (dkim as { arc?: ARCData } | undefined)?.arc;
  const arc = checks.has('arc') && arcData ? await verifyArc(arcData, { resolver }) : undefined;
  const dmarc = checks.has('dmarc') && dkim ? await dmarcOf(dkim, spf, arc, resolver) : undefined;

  const entries: CheckResult[] = [];
  if (checks.has('spf') && spf) entries.push(spfEntry(spf, facts));
  if (checks.has('dkim') && dkim) entries.push(...dkim.results.map(dkimEntry));
  if (checks.has('arc')) entries.push(arcEntry(arc, expired()));
  if (checks.has('dmarc') && dkim) entries.push(dmarc?.entry ?? { dmarc: 'none' });
  return { entries, dmarc: dmarc?.verdict };
}

/** RFC 7208 §2.3: an address literal as HELO is no domain to check; mailauth brackets IPs itself. */
function spfHelo(helo: string): string | undefined {
  const bare = helo.replace(/^\[(?:IPv6:)?|\]$/gi, '');
  return bare === '' ? undefined : bare;
}

function spfEntry(spf: SPFResult, facts: SessionFacts): CheckResult {
  // RFC 7208 §2.4: for the null sender SPF checks the HELO identity, and says so
  const identity = facts.sender ? { 'smtp.mailfrom': facts.sender } : { 'smtp.helo': facts.helo };
  const entry: CheckResult = { spf: spf.status.result, ...identity };
  if (isError(spf.status.result) && spf.status.comment) entry['reason'] = spf.status.comment;
  return entry;
}

function dkimEntry(result: DKIMResult): CheckResult {
  const status = result.status;
  if (!result.signingDomain) return { dkim: 'none' };
  // mailauth says neutral for a body hash mismatch; RFC 6376 §6.3 makes a signature whose body
  // hash does not verify a failed one, and that is what operators look for ("body changed")
  const bodyChanged = status.result === 'neutral' && status.comment === 'body hash did not verify';
  const entry: CheckResult = {
    dkim: bodyChanged ? 'fail' : status.result,
    domain: result.signingDomain,
    ...(result.selector ? { selector: result.selector } : {}),
  };
  const header = (status.header ?? {}) as Record<string, unknown>;
  if (typeof header['i'] === 'string') entry['header.i'] = header['i'];
  if (typeof header['b'] === 'string') entry['header.b'] = header['b'];
  if (status.result !== 'pass' && status.comment) entry['reason'] = status.comment;
  return entry;
}

function arcEntry(arc: ARCResult | undefined, expired: boolean): CheckResult {
  if (!arc) return { arc: 'none' };
  // mailauth calls every ARC failure permanent, a lookup cut short by our budget included
  const result = arc.status.result === 'fail' && expired ? 'temperror' : arc.status.result;
  const entry: CheckResult = { arc: result };
  if (arc.i) entry['instance'] = arc.i;
  if (result !== 'pass' && arc.status.comment) entry['reason'] = arc.status.comment;
  return entry;
}

async function dmarcOf(
  dkim: DKIMVerifyResult,
  spf: SPFResult | undefined,
  arc: ARCResult | undefined,
  resolver: DNSResolver,
): Promise<{ entry: CheckResult; verdict: DmarcVerdict | undefined }> {
  const from = dkim.headerFrom ?? [];
  // RFC 7489 §6.6.1: no single author domain, no DMARC evaluation
  if (from.length === 0) return { entry: { dmarc: 'none', reason: 'no From address' }, verdict: undefined };
  if (from.length > 1) return { entry: { dmarc: 'permerror', reason: 'more than one From address' }, verdict: undefined };
  const domain = (from[0]!.split('@').pop() ?? '').toLowerCase();
  const result = await verifyDmarc({
    headerFrom: from,
    spfDomains: spf && spf.status.result === 'pass' && spf.domain ? [spf.domain] : [],
    dkimDomains: dkim.results
      .filter((r) => r.status.result === 'pass')
      .map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized })),
    ...(arc ? { arcResult: arc } : {}),
    resolver,
  });
  if (!result) return { entry: { dmarc: 'none' }, verdict: undefined };
  const policy = result.policy || undefined;
  const entry: CheckResult = { dmarc: result.status.result, 'header.from': domain };
  if (policy) entry['policy'] = policy;
  if (result.error) entry['reason'] = result.error;
  return { entry, verdict: { result: result.status.result, domain, policy, pct: typeof result.pct === 'number' ? result.pct : undefined } };
}

function isError(result: string): boolean {
  return result === 'temperror' || result === 'permerror';
}
