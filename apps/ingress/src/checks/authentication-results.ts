import { dropHeaderFields, type CheckResult } from '@mtaq/envelope';

/** The methods RFC 8601 registers that we run; `spam` has no registered method and stays in the JSON. */
const METHODS = ['spf', 'dkim', 'arc', 'dmarc'] as const;

/** Our JSON names → RFC 8601 ptype.property names (the reference keeps `domain`/`selector` for DKIM). */
const PROPERTIES: Record<string, string> = {
  domain: 'header.d',
  selector: 'header.s',
  'header.i': 'header.i',
  'header.b': 'header.b',
  'smtp.mailfrom': 'smtp.mailfrom',
  'smtp.helo': 'smtp.helo',
  'header.from': 'header.from',
};

/**
 * The `Authentication-Results:` field (RFC 8601) for these verdicts, with our host name as the
 * authserv-id, folded one method per line, ending in CRLF. No method run: `none` (§2.2).
 */
export function authenticationResults(authservId: string, entries: readonly CheckResult[]): string {
  const results: string[] = [];
  for (const entry of entries) {
    const method = METHODS.find((m) => typeof entry[m] === 'string');
    if (method === undefined) continue;
    const parts = [`${method}=${String(entry[method])}`];
    // the DMARC policy has no registered property: as the common practice, a comment (p=reject)
    const notes = [entry['policy'] !== undefined ? `p=${String(entry['policy'])}` : '', typeof entry['reason'] === 'string' ? entry['reason'] : ''].filter(Boolean);
    if (notes.length) parts.push(`(${comment(notes.join('; '))})`);
    for (const [key, value] of Object.entries(entry)) {
      const property = PROPERTIES[key];
      if (property !== undefined && (typeof value === 'string' || typeof value === 'number')) parts.push(`${property}=${pvalue(String(value))}`);
    }
    results.push(parts.join(' '));
  }
  return `Authentication-Results: ${authservId};${results.length ? `\r\n\t${results.join(';\r\n\t')}` : ' none'}\r\n`;
}

/**
 * RFC 8601 §5: a field that claims to come from us but arrived with the message is a forgery
 * (or a loop) and must go, whether or not we add our own.
 */
export function withoutForgedResults(message: Buffer, authservId: string): Buffer {
  const ours = authservId.toLowerCase().replace(/\.$/, '');
  return dropHeaderFields(message, (name, value) => name === 'authentication-results' && authservIdOf(value()) === ours);
}

/**
 * The authserv-id as a reader of the field would take it: comments (which nest) removed, a
 * quoted-string unquoted, case and a trailing root dot ignored. Anything looser than the readers
 * downstream would let a forgery claiming our name through.
 */
function authservIdOf(value: string): string {
  let text = value;
  for (let previous = ''; previous !== text; ) {
    previous = text;
    text = text.replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  }
  const head = text.trimStart();
  const quoted = /^"((?:[^"\\]|\\.)*)"/.exec(head);
  const id = quoted ? quoted[1]!.replace(/\\(.)/g, '$1') : (head.split(/[\s;]/)[0] ?? '');
  return id.trim().toLowerCase().replace(/\.$/, '');
}

/** RFC 2045 token: no tspecials, no controls, no space. */
const TOKEN = /^[!#$%&'*+\-.^_`{|}~A-Za-z0-9]+$/;
/** RFC 8601 also allows an address or a domain unquoted: [local-part] "@" domain-name. */
const ADDRESS = /^(?:[!#$%&'*+\-/=?^_`{|}~A-Za-z0-9]+(?:\.[!#$%&'*+\-/=?^_`{|}~A-Za-z0-9]+)*)?@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** A pvalue: a token or an address as it is, anything else as a quoted-string without controls. */
function pvalue(value: string): string {
  if (TOKEN.test(value) || ADDRESS.test(value)) return value;
  return `"${value.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Comments nest parentheses; ours never need to, so they are replaced, as are controls. */
function comment(text: string): string {
  return text.replace(/[()\\]/g, ' ').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}
