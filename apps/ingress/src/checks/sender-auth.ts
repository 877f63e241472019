import { readHeaderFields, type CheckResult } from '@mtaq/envelope';
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
  const dmarc = checks.has('dmarc') && dkim ? await dmarcOf(dkim, spf, arc, resolver, undecided(spf, dkim)) : undefined;

  const entries: CheckResult[] = [];
  if (checks.has('spf') && spf) entries.push(spfEntry(spf, facts));
  if (checks.has('dkim') && dkim) {
    const identities = signingIdentities(message);
    entries.push(...dkim.results.map((result) => dkimEntry(result, identities)));
  }
  if (checks.has('arc')) entries.push(arcEntry(arc, expired()));
  if (checks.has('dmarc') && dkim) entries.push(dmarc?.entry ?? { dmarc: 'none' });
  return { entries, dmarc: dmarc?.verdict };
}

/**
 * RFC 7208 §2.3: an address literal as HELO names no domain. Passed bare, mailauth finds no valid
 * domain in it and says `none` for a null sender, which is the right verdict.
 */
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

function dkimEntry(result: DKIMResult, identities: ReadonlyMap<string, string>): CheckResult {
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
  // mailauth reports `@d` here whatever the signature says: the i= tag is read from the field itself
  const signature = (result as { signature?: string }).signature;
  const identity = signature !== undefined ? identities.get(signature.replace(/\s+/g, '')) : undefined;
  entry['header.i'] = identity ?? `@${result.signingDomain}`;
  if (typeof header['b'] === 'string') entry['header.b'] = header['b'];
  if (status.result !== 'pass' && status.comment) entry['reason'] = status.comment;
  return entry;
}

function arcEntry(arc: ARCResult | undefined, expired: boolean): CheckResult {
  if (!arc) return { arc: 'none' };
  // mailauth calls every ARC failure permanent; one without a reason after our budget ran out is a
  // key lookup that was cut short (the chain's own faults and missing keys come with a reason)
  const result = arc.status.result === 'fail' && expired && !arc.status.comment ? 'temperror' : arc.status.result;
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
  undecidedInput: boolean,
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
  // no aligned pass, but SPF or a DKIM signature could not be checked: that is no verdict (the
  // missing pass may be our DNS trouble), and must never refuse mail as a fail would
  const outcome = result.status.result === 'fail' && undecidedInput ? 'temperror' : result.status.result;
  const entry: CheckResult = { dmarc: outcome, 'header.from': domain };
  if (policy) entry['policy'] = policy;
  if (outcome !== result.status.result) entry['reason'] = 'no aligned pass, and SPF or DKIM could not be checked';
  else if (result.error) entry['reason'] = result.error;
  return { entry, verdict: { result: outcome, domain, policy, pct: typeof result.pct === 'number' ? result.pct : undefined } };
}

/** SPF or any DKIM signature ended in temperror: DMARC's inputs are incomplete. */
function undecided(spf: SPFResult | undefined, dkim: DKIMVerifyResult): boolean {
  return spf?.status.result === 'temperror' || dkim.results.some((r) => r.status.result === 'temperror');
}

/**
 * Each DKIM-Signature's b= (whitespace removed) → its i= tag, or `@d` when it has none (RFC 6376
 * §3.5: the default AUID). Unparseable fields are skipped; mailauth has judged them already.
 */
function signingIdentities(message: Buffer): Map<string, string> {
  const identities = new Map<string, string>();
  for (const field of readHeaderFields(message)) {
    if (field.name !== 'dkim-signature') continue;
    const tags = new Map<string, string>();
    for (const part of field.value.split(';')) {
      const at = part.indexOf('=');
      if (at > 0) tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).replace(/\s+/g, ''));
    }
    const b = tags.get('b');
    const d = tags.get('d');
    if (b && d) identities.set(b, tags.get('i') || `@${d}`);
  }
  return identities;
}

function isError(result: string): boolean {
  return result === 'temperror' || result === 'permerror';
}
