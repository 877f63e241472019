/**
 * Documents published after an attempt (reference §6): result documents for the results / success /
 * failure / retry queues, and the full document that goes back to the outbox for a retry.
 */

import {
  decodeHeaderValue,
  firstAddress,
  formatTime,
  parseAddressList,
  readHeaderFields,
  type AddressParts,
  type Extracted,
  type MessageProperties,
  type NextAttempt,
  type ResultEntry,
  type ResultMessage,
} from '@mtaq/envelope';

export interface ResultDocumentOptions {
  /**
   * The MIME as finally sent (after header edits, signing, or loading from the store). `extracted`
   * describes this one; without it the message's own string `mime` is used.
   */
  mime?: string | Buffer;
}

// parseOutgoing carries earlier entries without judging them (another delivery's states may differ).
function previousResults(message: MessageProperties): ResultEntry[] {
  return Array.isArray(message.results) ? [...(message.results as ResultEntry[])] : [];
}

/**
 * The message as consumed, every unknown property intact, with `results` extended by `entries`,
 * an `extracted` summary, and `mime` removed unless `keepmime` is true. `key` stays: it is how a
 * consumer finds the body when a store is used (§6).
 */
export function resultDocument(
  message: MessageProperties,
  entries: ResultEntry | readonly ResultEntry[],
  options: ResultDocumentOptions = {},
): ResultMessage {
  const added: readonly ResultEntry[] = Array.isArray(entries) ? entries : [entries as ResultEntry];
  const mime = message.mime;
  const document = copyWithout(message, message.keepmime === true ? undefined : 'mime') as ResultMessage;
  document.results = [...previousResults(message), ...added];
  const source = options.mime ?? (typeof mime === 'string' ? mime : undefined);
  document.extracted = extract(message, source);
  return document;
}

/**
 * A shallow copy of `object`'s own properties in their order, without `omit`. A loop is half the
 * cost of `{ omit, ...rest }` here, which runs for every attempt (delivery CPU profile, issue 13).
 */
function copyWithout(object: object, omit: string | undefined): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(object)) {
    if (key === omit) continue;
    const value = (object as Record<string, unknown>)[key];
    // a JSON `__proto__` key is an ordinary property: assigning it would set the prototype instead
    if (key === '__proto__') Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    else copy[key] = value;
  }
  return copy;
}

/**
 * The document that goes back to the outbox (through a delay queue) for another attempt: the full
 * JSON including `mime`/`key`, the new entry appended, and `nextattempt.time`. The legacy `delayed`
 * is dropped, since it would override nothing but confuse readers (I9: read both, write
 * `nextattempt`); other `nextattempt` properties are kept. `maxdelivertime` must already be in
 * `message` (see firstPickup), or the retry would restart the time limit.
 */
export function retryDocument<T extends MessageProperties>(
  message: T,
  entry: ResultEntry,
  nextAttempt: Date,
): T & { results: ResultEntry[]; nextattempt: NextAttempt } {
  const { delayed: _legacy, ...rest } = message;
  const previous = typeof message.nextattempt === 'object' && message.nextattempt !== null ? message.nextattempt : {};
  return {
    ...(rest as T),
    results: [...previousResults(message), entry],
    nextattempt: { ...previous, time: formatTime(nextAttempt) },
  };
}

/**
 * The copy for the `retry` queue: the retry document as a result document, so scripts see the
 * same entries and the planned `nextattempt`, without `mime` unless `keepmime`.
 */
export function retryCopy(
  message: MessageProperties,
  entry: ResultEntry,
  nextAttempt: Date,
  options: ResultDocumentOptions = {},
): ResultMessage {
  return resultDocument(retryDocument(message, entry, nextAttempt), [], options);
}

function addressParts(address: unknown): AddressParts | undefined {
  if (typeof address !== 'string' || address === '') return undefined;
  const at = address.lastIndexOf('@');
  return at === -1 ? { local: address, domain: '' } : { local: address.slice(0, at), domain: address.slice(at + 1) };
}

/**
 * `extracted` (§6): From, To and Subject of the MIME plus every header (lower-cased names, RFC 2047
 * decoded, repeated fields as arrays in message order), and the envelope/recipient split at the
 * last `@`. Without a MIME string (responsive object, store key not loaded) only the addresses.
 */
export function extract(message: MessageProperties, mime: string | Buffer | undefined): Extracted {
  const extracted: Extracted = {};
  if (mime !== undefined) {
    const headers: Record<string, string | string[]> = {};
    const to: string[] = [];
    // a Buffer is read in place up to its empty line: a large body is never copied
    for (const field of readHeaderFields(mime)) {
      const value = decodeHeaderValue(field.value);
      const seen = headers[field.name];
      headers[field.name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
      if (field.name === 'from' && extracted.from === undefined) {
        const from = firstAddress(field.value);
        if (from !== undefined) extracted.from = from;
      } else if (field.name === 'to') {
        to.push(...parseAddressList(field.value));
      } else if (field.name === 'subject' && extracted.subject === undefined) {
        extracted.subject = value;
      }
    }
    extracted.to = to;
    extracted.headers = headers;
  }
  const envelope = addressParts(message.envelope);
  if (envelope !== undefined) extracted.envelope = envelope;
  const recipient = addressParts(message.recipient);
  if (recipient !== undefined) extracted.recipient = recipient;
  return extracted;
}
