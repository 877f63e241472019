import { generateKeyPairSync } from 'node:crypto';
import { EX_USAGE } from './exit-codes.js';

/** Options of `mtaq dkim generate`. */
export const DKIM_OPTIONS = ['--domain', '--selector', '--bits', '--type'];

const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

export interface DkimKey {
  /** PKCS#8 PEM of the private key (what dkim-key / the DKIM key table take). */
  readonly privateKey: string;
  /** `S._domainkey.D` */
  readonly name: string;
  /** The TXT value: `v=DKIM1; k=rsa; p=…`. */
  readonly value: string;
  /** The record as one zone-file line, the value split into strings of at most 255 bytes. */
  readonly zoneLine: string;
}

/**
 * A new DKIM key: RSA (the public key in p= is its SubjectPublicKeyInfo, RFC 6376) or Ed25519 (the
 * 32 raw public key bytes, RFC 8463).
 */
export function generateDkimKey(domain: string, selector: string, type: 'rsa' | 'ed25519' = 'rsa', bits = 2048): DkimKey {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 0x10001 })
      : generateKeyPairSync('ed25519');
  const privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const p = (type === 'rsa' ? spki : spki.subarray(spki.length - 32)).toString('base64');
  const name = `${selector}._domainkey.${domain.replace(/\.$/, '')}`;
  const value = `v=DKIM1; k=${type}; p=${p}`;
  const strings = (value.match(/.{1,255}/g) ?? []).map((s) => `"${s}"`);
  return { privateKey, name, value, zoneLine: `${name}. 3600 IN TXT ${strings.join(' ')}` };
}

/** `mtaq dkim generate --domain D --selector S [--bits 2048] [--type rsa|ed25519]`. */
export function dkimCommand(words: readonly string[]): number {
  const fail = (message: string): number => {
    process.stderr.write(`mtaq dkim: ${message} (see mtaq dkim --help)\n`);
    return EX_USAGE;
  };
  const [action, ...rest] = words;
  if (action !== 'generate') return fail(action === undefined ? 'missing action: generate' : `unknown action "${action}"`);
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    const eq = word.indexOf('=');
    const [flag, inline] = word.startsWith('--') && eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, undefined];
    if (!DKIM_OPTIONS.includes(flag)) return fail(`unknown option ${word}`);
    const value = inline ?? rest[++i];
    if (value === undefined) return fail(`${flag} needs a value`);
    options.set(flag, value);
  }
  const domain = options.get('--domain')?.replace(/\.$/, '');
  const selector = options.get('--selector');
  if (!domain) return fail('--domain is required');
  if (!selector) return fail('--selector is required');
  if (domain.length > 253 || !domain.split('.').every((label) => LABEL.test(label)) || !domain.includes('.')) return fail(`--domain: "${domain}" is not a domain name`);
  if (!selector.split('.').every((label) => LABEL.test(label))) return fail(`--selector: "${selector}" is not a DNS label`);
  const type = options.get('--type') ?? 'rsa';
  if (type !== 'rsa' && type !== 'ed25519') return fail('--type must be rsa or ed25519');
  const bitsText = options.get('--bits');
  if (bitsText !== undefined && type === 'ed25519') return fail('--bits is for rsa keys (ed25519 keys have one size)');
  const bits = bitsText === undefined ? 2048 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 1024 || bits > 8192) return fail('--bits must be a whole number from 1024 to 8192 (2048 is the usual choice)');
  const key = generateDkimKey(domain, selector, type, bits);
  process.stdout.write(
    `; DKIM key for ${domain}, selector ${selector} (${type === 'rsa' ? `rsa ${bits} bits` : 'ed25519'}).\n` +
      '; The private key: keep it secret; save it to a file that dkim-key names (with dkim-domain, dkim-selector).\n' +
      `${key.privateKey.trimEnd()}\n` +
      '\n' +
      `; The DNS record to publish (TXT ${key.name}):\n` +
      `${key.zoneLine}\n`,
  );
  return 0;
}
