import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ARCSealOptions, DKIMSignOptions } from 'mailauth';
import type { Config } from '@mtaq/config';
import type { DkimKey, OutgoingMessage } from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';

/** MailerQ's default (reference §4), for the message's keys and the `dkim-*` config key alike. */
export const DEFAULT_CANONICALIZATION = 'relaxed/simple';

interface Signing {
  readonly dkimSign: typeof import('mailauth/lib/dkim/sign.js').dkimSign;
  readonly sealMessage: typeof import('mailauth/lib/arc/index.js').sealMessage;
  readonly defaultSignedHeaders: readonly string[];
}
let signing: Signing | undefined;

/**
 * mailauth's signer and sealer, loaded with the first message that has a key to sign with: a
 * delivery that signs nothing never loads them (with mailauth's tools: joi, tldts, about 20 MB).
 * Their own modules, not mailauth's index, which also loads BIMI/VMC (undici, @peculiar/asn1-*),
 * SPF and DMARC that signing never uses.
 */
function loadSigning(): Signing {
  if (signing === undefined) {
    const require = createRequire(import.meta.url);
    const tools = require('mailauth/lib/tools.js') as { defaultDKIMFieldNames: string };
    signing = {
      dkimSign: (require('mailauth/lib/dkim/sign.js') as typeof import('mailauth/lib/dkim/sign.js')).dkimSign,
      sealMessage: (require('mailauth/lib/arc/index.js') as typeof import('mailauth/lib/arc/index.js')).sealMessage,
      defaultSignedHeaders: tools.defaultDKIMFieldNames
        .split(':')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    };
  }
  return signing;
}

/** mailauth's own default list of signed header fields (From, Subject, Date, To, …), lower case. */
export function defaultSignedHeaders(): readonly string[] {
  return loadSigning().defaultSignedHeaders;
}

/** Warnings already given, keyed by message + key + issue, so a mailing does not warn per recipient. */
const WARNED_MAX = 10_000;

export interface DkimSignerOptions {
  /** The `dkim-domain`/`-selector`/`-key` key, signing every message. */
  readonly configKey?: DkimKey;
  /** Our name: the authserv-id of the ARC-Authentication-Results we write (`smtp-hostname`). */
  readonly hostname: string;
  readonly logger?: Logger;
  /**
   * The DKIM key table (§4: "DB keys matching the From also sign"), read per message so a reload of
   * the rule database takes effect at once. Keys whose domain is the From domain sign, after the
   * message's own keys and the config key; one with the same domain and selector as a key already
   * used is skipped.
   */
  readonly tableKeys?: () => readonly DkimKey[];
}

/**
 * DKIM signing with mailauth, and ARC sealing, with the keys a message carries (`dkim`, §4) plus the
 * one from config. Per key: `canonicalization` (default relaxed/simple), the signed fields are
 * mailauth's default list plus the key's `headers`, the algorithm follows the key type (rsa-sha256 or
 * ed25519-sha256), `protocols` (default `["dkim"]`) says whether it signs, seals, or both. Keys whose
 * `expire` is past are skipped. Not possible with mailauth, and logged (once per message and key):
 * `report: true` (the r=y tag of RFC 6651), ARC with a non-RSA key, a second ARC key, and sealing
 * over an ARC chain we did not verify (no `arc=` verdict of ours in the message).
 */
export class DkimSigner {
  readonly #configKey: DkimKey | undefined;
  readonly #hostname: string;
  readonly #log: Logger | undefined;
  readonly #warned = new Set<string>();
  readonly #tableKeys: (() => readonly DkimKey[]) | undefined;

  constructor(options: DkimSignerOptions) {
    this.#tableKeys = options.tableKeys;
    this.#configKey = options.configKey;
    this.#hostname = options.hostname;
    this.#log = options.logger;
  }

  static fromConfig(config: Config, logger?: Logger, tableKeys?: () => readonly DkimKey[]): DkimSigner {
    const domain = config['dkim-domain'];
    const configKey = domain ? { domain, selector: config['dkim-selector'], key: readFileSync(config['dkim-key'], 'utf8') } : undefined;
    return new DkimSigner({ ...(configKey ? { configKey } : {}), hostname: config['smtp-hostname'], ...(logger ? { logger } : {}), ...(tableKeys ? { tableKeys } : {}) });
  }

  async sign(message: OutgoingMessage, mime: Buffer): Promise<Buffer> {
    const now = Date.now();
    const own = message.dkim === undefined ? [] : Array.isArray(message.dkim) ? message.dkim : [message.dkim];
    const given = [...own, ...(this.#configKey ? [this.#configKey] : [])];
    const table = this.#tableKeys?.() ?? [];
    const fields = table.length > 0 || given.length > 0 ? headerFields(mime) : [];
    if (table.length > 0) {
      const from = fromDomain(fields);
      const used = new Set(given.map((k) => `${normalDomain(k.domain)}\0${k.selector.toLowerCase()}`));
      for (const k of table) {
        if (from === undefined || normalDomain(k.domain) !== from) continue;
        const id = `${normalDomain(k.domain)}\0${k.selector.toLowerCase()}`;
        if (used.has(id)) continue;
        used.add(id);
        given.push({ ...k, domain: normalDomain(k.domain) });
      }
    }
    const keys = given.filter((k) => !k.expire || Date.parse(`${k.expire.replace(' ', 'T')}Z`) > now);
    if (keys.length === 0) return mime;
    const id = fields.find((f) => f.name === 'message-id')?.value.trim() ?? message['message-id'] ?? '';
    const warn = (k: DkimKey, issue: string): void => this.#warn(id, k, issue);

    const { dkimSign, sealMessage, defaultSignedHeaders: DEFAULT_SIGNED_HEADERS } = loadSigning();
    const signatures: Buffer[] = [];
    for (const k of keys) {
      if (k.report) warn(k, 'report: true (r=y, RFC 6651) is not supported by the signer (mailauth): the signature has no r= tag');
      if (!(k.protocols ?? ['dkim']).includes('dkim')) continue;
      const algorithm = algorithmOf(k);
      if (!algorithm) {
        warn(k, 'the key is no RSA or Ed25519 private key in PEM: not signed with it');
        continue;
      }
      const extra = (k.headers ?? []).map((h) => h.trim().toLowerCase()).filter((h) => h && !DEFAULT_SIGNED_HEADERS.includes(h));
      // mailauth signs the signatureData entries only (index.d.ts wants the top-level key fields too)
      const { signatures: lines, errors } = await dkimSign(mime, {
        canonicalization: k.canonicalization ?? DEFAULT_CANONICALIZATION,
        // mailauth reads headerList as a colon-separated string (an array would fall back to its default)
        headerList: [...DEFAULT_SIGNED_HEADERS, ...new Set(extra)].join(':') as unknown as string[],
        signatureData: [{ signingDomain: k.domain, selector: k.selector, privateKey: k.key, algorithm }],
      } as Omit<DKIMSignOptions, 'signingDomain' | 'selector' | 'privateKey'> as DKIMSignOptions);
      for (const e of errors ?? []) warn(k, `not signed: ${(e as { err?: Error }).err?.message ?? String(e)}`);
      if (lines.trim()) signatures.push(Buffer.from(lines));
    }
    const signed = Buffer.concat([...signatures, mime]);

    const arcKeys = keys.filter((k) => k.protocols?.includes('arc'));
    if (arcKeys.length === 0) return signed;
    for (const k of arcKeys.slice(1)) warn(k, 'only one ARC set is added per message: this key does not seal');
    const k = arcKeys[0]!;
    if (algorithmOf(k) !== 'rsa-sha256') {
      warn(k, 'ARC sealing needs an RSA key (mailauth signs ARC with rsa-sha256 only): not sealed');
      return signed;
    }
    // our own verdicts, if the message carries them (ingress smtp-auth-results)
    const ours = fields.find((f) => f.name === 'authentication-results' && authservId(f.value) === this.#hostname.toLowerCase().replace(/\.$/, ''));
    const chain = fields.some((f) => f.name === 'arc-seal');
    const verdict = ours && /(?:^|;)\s*arc\s*=\s*(\w+)/i.exec(ours.value)?.[1]?.toLowerCase();
    const cv = !chain ? 'none' : verdict === 'pass' || verdict === 'fail' ? verdict : undefined;
    if (!cv) {
      warn(k, 'the message carries an ARC chain we did not verify (no arc= verdict of ours): not sealed');
      return signed;
    }
    const seal = await sealMessage(signed, {
      signingDomain: k.domain,
      selector: k.selector,
      privateKey: k.key,
      algorithm: 'rsa-sha256',
      cv,
      authResults: ours ? ours.value.trim() : `${this.#hostname}; none`,
    } as ARCSealOptions);
    return Buffer.concat([seal, signed]);
  }

  #warn(messageId: string, k: DkimKey, issue: string): void {
    const key = `${messageId}\0${k.domain}\0${k.selector}\0${issue}`;
    if (this.#warned.has(key)) return;
    if (this.#warned.size >= WARNED_MAX) this.#warned.clear();
    this.#warned.add(key);
    this.#log?.warn({ 'message-id': messageId || undefined, domain: k.domain, selector: k.selector }, `dkim: ${issue}`);
  }
}

function algorithmOf(k: DkimKey): 'rsa-sha256' | 'ed25519-sha256' | undefined {
  try {
    const type = createPrivateKey(k.key).asymmetricKeyType;
    return type === 'rsa' ? 'rsa-sha256' : type === 'ed25519' ? 'ed25519-sha256' : undefined;
  } catch {
    return undefined;
  }
}

/** The header block's fields, names lower case, values unfolded. */
function headerFields(mime: Buffer): Array<{ name: string; value: string }> {
  const text = mime.toString('latin1');
  const end = /\r?\n\r?\n/.exec(text);
  const head = end ? text.slice(0, end.index) : text;
  const fields: Array<{ name: string; value: string }> = [];
  for (const line of head.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) });
  }
  return fields;
}

function normalDomain(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * The domain of the (first) From address, lower case, or undefined without one: `Name <a@b>` and a
 * bare `a@b` alike; comments and a quoted display name that holds an `@` are not mistaken for it.
 */
export function fromDomain(fields: ReadonlyArray<{ name: string; value: string }>): string | undefined {
  const value = fields.find((f) => f.name === 'from')?.value;
  if (value === undefined) return undefined;
  const plain = value.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^()]*\)/g, ' ');
  const angle = /<([^<>]*)>/.exec(plain)?.[1];
  const address = (angle ?? plain.split(',')[0] ?? '').trim();
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  const domain = normalDomain(address.slice(at + 1));
  return domain === '' ? undefined : domain;
}

/** The authserv-id of an Authentication-Results value: its first token, comments dropped. */
function authservId(value: string): string {
  return value.replace(/\([^()]*\)/g, ' ').trim().split(/[\s;]+/)[0]!.toLowerCase().replace(/\.$/, '');
}
