/**
 * Just enough RFC 5322 address-list parsing to pull addr-specs out of From/To/Return-Path style
 * headers: display names, comments, quoted strings, groups and obsolete routes are skipped over.
 * Validity is the "loose" notion (something@syntactically-valid-domain), because the strict check
 * belongs to delivery's `validate-recipient` / `validate-envelope` settings.
 */

// Local part: a quoted string, or atext-ish characters (dots unchecked, as `loose` allows `a..b`).
const LOCAL = /^(?:"(?:[^"\\\r\n]|\\.)*"|[^\s"(),:;<>@[\\\]]+)$/;
// Domain: dot-separated labels (U-labels allowed for SMTPUTF8) or an address literal.
const DOMAIN =
  /^(?:\[[^[\]\\\s]+\]|[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff_-]*[A-Za-z0-9\u0080-\uffff])?(?:\.[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff_-]*[A-Za-z0-9\u0080-\uffff])?)*)$/;

export function isValidAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  return LOCAL.test(address.slice(0, at)) && DOMAIN.test(address.slice(at + 1));
}

/** Every valid addr-spec in the list, in order; invalid entries and group names are skipped. */
export function parseAddressList(value: string): string[] {
  const found: string[] = [];
  let text = ''; // the current entry with comments removed
  let angle = ''; // content of the entry's <…>, which wins over the bare text
  let hasAngle = false;
  let angleClosed = false; // a second <…> in one entry is malformed; only the first counts
  let inAngle = false;
  let inQuote = false;
  let inLiteral = false;
  let comment = 0;

  const finish = (): void => {
    const candidate = hasAngle ? stripRoute(angle.trim()) : bareAddress(text);
    if (candidate !== undefined && isValidAddress(candidate)) found.push(candidate);
    text = '';
    angle = '';
    hasAngle = false;
    angleClosed = false;
  };

  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (comment > 0) {
      if (c === '\\') i++;
      else if (c === '(') comment++;
      else if (c === ')') comment--;
      continue;
    }
    if (inQuote) {
      if (c === '\\' && i + 1 < value.length) {
        const escaped = `${c}${value[++i] as string}`;
        if (!inAngle) text += escaped;
        else if (!angleClosed) angle += escaped;
        continue;
      }
      if (c === '"') inQuote = false;
      if (!inAngle) text += c;
      else if (!angleClosed) angle += c;
      continue;
    }
    if (inAngle) {
      if (c === '>') {
        inAngle = false;
        angleClosed = true;
        continue;
      }
      if (c === '"') inQuote = true;
      if (!angleClosed) angle += c;
      continue;
    }
    if (inLiteral) {
      if (c === ']') inLiteral = false;
      text += c;
      continue;
    }
    switch (c) {
      case '(':
        comment = 1;
        text += ' ';
        break;
      case '"':
        inQuote = true;
        text += c;
        break;
      case '<':
        inAngle = true;
        hasAngle = true;
        break;
      case '[':
        inLiteral = true;
        text += c;
        break;
      case ':':
        // End of a group's display name: what came before is not an address.
        text = '';
        angle = '';
        hasAngle = false;
        angleClosed = false;
        break;
      case ',':
      case ';':
        finish();
        break;
      default:
        text += c;
    }
  }
  finish();
  return found;
}

export function firstAddress(value: string): string | undefined {
  return parseAddressList(value)[0];
}

/** `@a,@b:user@x` (obsolete source route) → `user@x`. */
function stripRoute(s: string): string {
  if (!s.startsWith('@')) return s;
  const colon = s.indexOf(':');
  return colon === -1 ? s : s.slice(colon + 1);
}

/** An entry without `<…>`: the whole text if it is an address, else the first word that is one. */
function bareAddress(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (isValidAddress(trimmed)) return trimmed;
  for (const word of trimmed.split(/\s+/)) if (isValidAddress(word)) return word;
  return undefined;
}

// RFC 5321 §4.1.2 Mailbox, with RFC 6531's UTF-8 in atext and sub-domains (SMTPUTF8).
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\-\\u0080-\\uffff]+";
const DOT_STRING = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*$`);
const QUOTED_STRING = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"$/;
const SUB_DOMAIN = '[A-Za-z0-9\\u0080-\\uffff](?:[A-Za-z0-9\\u0080-\\uffff-]*[A-Za-z0-9\\u0080-\\uffff])?';
const STRICT_DOMAIN = new RegExp(`^${SUB_DOMAIN}(?:\\.${SUB_DOMAIN})*$`);
const ADDRESS_LITERAL = /^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]$/;

/**
 * `strict`: an RFC 5321 mailbox (dot-string or quoted local part ≤ 64 octets, host name or address
 * literal ≤ 255). `loose`: anything shaped like local@valid-domain, e.g. `a..b@example.com` (C19).
 */
export function isValidMailbox(address: string, mode: 'strict' | 'loose'): boolean {
  if (mode === 'loose') return isValidAddress(address);
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (Buffer.byteLength(local) > 64 || Buffer.byteLength(domain) > 255) return false;
  if (!DOT_STRING.test(local) && !QUOTED_STRING.test(local)) return false;
  return STRICT_DOMAIN.test(domain) || ADDRESS_LITERAL.test(domain);
}
