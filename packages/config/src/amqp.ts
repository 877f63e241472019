import { InvalidValue, maskUrl, type ValueType } from './parsers.js';

const EXPECTED =
  'amqp[s]://user:pass@host[:port]/vhost URLs joined by "," (or several hosts joined by ";" in one URL)';
const URL_SHAPE = /^(amqps?):\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i;
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/i;

/**
 * Splits a broker address into one full URL per node (I4). Both MailerQ spellings are accepted and
 * give the same result: `amqp://u:p@h1/v,amqp://u:p@h2/v` and `amqp://u:p@h1;h2/v`; a `;` directly
 * followed by a new `amqp[s]://` also separates URLs.
 */
export function parseAmqpAddresses(text: string): string[] {
  const nodes: string[] = [];
  for (const piece of text.split(',')) {
    for (const part of piece.split(/;(?=\s*amqps?:\/\/)/i)) {
      const item = part.trim();
      if (item !== '') nodes.push(...expandUrl(item));
    }
  }
  return nodes;
}

function expandUrl(item: string): string[] {
  const m = URL_SHAPE.exec(item);
  if (m?.[1] === undefined || m[3] === undefined) {
    throw new InvalidValue(EXPECTED, `"${item}" is not an amqp:// or amqps:// URL`);
  }
  const scheme = m[1].toLowerCase();
  const userinfo = m[2] === undefined ? '' : `${m[2]}@`;
  const rest = (m[4] ?? '') + (m[5] ?? '');
  const hosts = m[3].split(';').map((host) => host.trim());
  return hosts.map((host) => {
    const hp = HOST_PORT.exec(host);
    const portText = hp?.[2];
    if (hp === null || (portText !== undefined && (Number(portText) < 1 || Number(portText) > 65535))) {
      throw new InvalidValue(EXPECTED, host === '' ? `"${item}" names an empty host` : `"${host}" is not a host[:port]`);
    }
    const url = `${scheme}://${userinfo}${host}${rest}`;
    try {
      new URL(url);
    } catch {
      throw new InvalidValue(EXPECTED, `"${url}" is not a valid URL`);
    }
    return url;
  });
}

/** Broker URL list; `required` keys refuse an empty value (a process cannot run without a broker). */
export function amqpAddresses(options: { required: boolean }): ValueType<readonly string[]> {
  return {
    describe: 'AMQP URL list',
    parse(value) {
      const nodes = parseAmqpAddresses(value);
      if (options.required && nodes.length === 0) throw new InvalidValue(EXPECTED, 'at least one broker is needed');
      return nodes;
    },
    format: (value) => value.join(','),
    mask: (value) => value.map(maskUrl).join(','),
  };
}

/** The URL the legacy 3.x keys describe (`rabbitmq-host/user/password/vhost`), for `rabbitmq-address`. */
export function legacyAmqpAddress(parts: { host: string; user: string; password: string; vhost: string }): string {
  const host = parts.host === '' ? 'localhost' : parts.host;
  const user = encodeURIComponent(parts.user === '' ? 'guest' : parts.user);
  const password = encodeURIComponent(parts.password === '' && parts.user === '' ? 'guest' : parts.password);
  const vhost = parts.vhost === '' || parts.vhost === '/' ? '' : encodeURIComponent(parts.vhost);
  return `amqp://${user}:${password}@${host}/${vhost}`;
}
