import { isUtf8 } from 'node:buffer';
import type { Config } from '@mtaq/config';
import {
  createMessageIdGenerator,
  dropHeaderFields,
  envelopeFromMime,
  extractMqHeaders,
  formatTime,
  parseOutgoing,
  recipientsFromMime,
  type CliInfo,
  type HttpInfo,
  type IncomingMessage,
  type SpoolInfo,
} from '@mtaq/envelope';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import { MimeJson } from '../message/json-bytes.js';
import { publishDocuments } from '../message/publish.js';
import { detectReport } from '../message/reports/index.js';
import { AddressPatterns } from '../policy/address-patterns.js';
import type { IngressMetrics } from '../metrics.js';

/** A message that cannot be injected as it is: retrying will not help (spool: fail directory; CLI: exit 65). */
export class InjectInputError extends Error {}

/** Where an injected message came from: §3's `spool` or `cli` property, in place of `connection`. */
export type InjectOrigin = { readonly spool: SpoolInfo } | { readonly cli: CliInfo } | { readonly http: HttpInfo };

export interface InjectRequest {
  /** The file's bytes: a MIME message, or a JSON document (object or array of objects). */
  readonly input: Buffer;
  readonly origin: InjectOrigin;
  /** Turn `x-mq-*` headers into properties (spool-extract; always for the CLI, §5). */
  readonly extract: boolean;
  /** Overrides the envelope sender (`mtaq inject --envelope`); "" is the null sender. */
  readonly envelope?: string | undefined;
  /** Overrides the recipients (`mtaq inject --recipient`); else To/Cc/Bcc, or the JSON's own. */
  readonly recipients?: readonly string[] | undefined;
}

/** Documents of one message, held once as a MimeJson, ready for publishDocuments. */
export interface InjectBatch {
  readonly documents: Array<IncomingMessage & { 'message-id': string }>;
  readonly mime: MimeJson;
  readonly report: boolean;
}

/** Is it JSON? A `{` or `[` before anything else: no RFC 5322 header starts that way. */
export function looksLikeJson(input: Buffer): boolean {
  for (const byte of input) {
    if (byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) continue;
    if (byte === 0xef) continue; // a UTF-8 byte order mark
    return byte === 0x7b || byte === 0x5b;
  }
  return false;
}

/**
 * Spool files and `mtaq inject` input as incoming JSON documents (reference §3, §5), then
 * published with confirms, routed like SMTP mail (inbox, or local/reports for Local Addresses).
 */
export class Injector {
  readonly #config: Config;
  readonly #local: AddressPatterns;
  readonly #nextId: () => string;
  readonly #log: Logger;
  readonly #metrics: IngressMetrics | undefined;

  constructor(deps: { config: Config; nextId?: () => string; logger: Logger; metrics?: IngressMetrics | undefined }) {
    this.#metrics = deps.metrics;
    this.#config = deps.config;
    this.#nextId = deps.nextId ?? createMessageIdGenerator(deps.config['server-id']);
    this.#log = deps.logger;
    this.#local = AddressPatterns.load(deps.config['smtp-local-addresses'], deps.config['smtp-local-addresses-file']);
  }

  /** Builds the documents; throws InjectInputError when the input cannot become any. */
  async compose(request: InjectRequest): Promise<InjectBatch[]> {
    return looksLikeJson(request.input) ? this.#fromJson(request) : [await this.#fromMime(request)];
  }

  /** Publishes every batch with confirms; rejects (a PublishError) when any copy was not confirmed. */
  async publish(publisher: Publisher, batches: readonly InjectBatch[], log: Logger = this.#log): Promise<void> {
    const metrics = this.#metrics;
    const options = { config: this.#config, publisher, isLocal: (address: string) => this.#local.matches(address), log, metrics };
    const first = batches[0]?.documents[0];
    if (metrics && first) metrics.received('spool' in first ? 'spool' : 'http' in first ? 'http' : 'cli');
    for (const batch of batches) await publishDocuments(batch.documents, batch.mime, batch.report, options);
  }

  #common(): { received: string; hostname: string } {
    return { received: formatTime(new Date()), hostname: this.#config['smtp-hostname'] };
  }

  async #fromMime(request: InjectRequest): Promise<InjectBatch> {
    const raw = request.input;
    if (raw.length === 0) throw new InjectInputError('empty message');
    let body = raw;
    let extracted: Record<string, unknown> = {};
    if (request.extract) {
      const result = extractMqHeaders(raw);
      body = result.mime;
      extracted = result.properties;
      for (const warning of result.warnings) this.#log.warn({ warning }, 'ignored x-mq header');
    }
    // I5: x-mq-envelope, Return-Path, From, Sender; x-mq-envelope only when extraction is on (§5)
    const envelope =
      request.envelope ?? (extracted['envelope'] as string | undefined) ?? envelopeFromMime(request.extract ? body : dropHeaderFields(raw, (name) => name === 'x-mq-envelope')) ?? '';
    const recipients = request.recipients?.length ? [...request.recipients] : recipientsFromMime(body);
    if (recipients.length === 0) throw new InjectInputError('no recipients: no To, Cc or Bcc address and none given');
    // Bcc names recipients the others must not see: it never travels
    body = dropHeaderFields(body, (name) => name === 'bcc');
    const utf8 = isUtf8(body);
    const mime = new MimeJson([body], !utf8);
    const report = Boolean(this.#config['rabbitmq-reports']) && recipients.some((r) => this.#local.matches(r)) && (await detectReport(body)) !== undefined;
    const common = this.#common();
    const documents = recipients.map((recipient) => ({
      'message-id': this.#nextId(),
      ...common,
      ...extracted,
      envelope,
      recipient,
      mime: mime.placeholder,
      ...request.origin,
      ...(utf8 ? {} : { 'mime-encoding': 'latin1' }),
    }));
    return { documents, mime, report };
  }

  #fromJson(request: InjectRequest): InjectBatch[] {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.input.toString('utf8'));
    } catch (err) {
      throw new InjectInputError(`not valid JSON: ${(err as Error).message}`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.length === 0) throw new InjectInputError('an empty JSON array');
    // every document is checked before any is published: a bad one fails the file as a whole
    const checked = list.map((item, i) => {
      const given = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
      // the recipient may come from the command line alone
      const candidate = given && request.recipients?.length && given['recipient'] === undefined ? { ...given, recipient: request.recipients[0] } : given;
      try {
        parseOutgoing(candidate);
      } catch (err) {
        throw new InjectInputError(`${list.length > 1 ? `document ${i + 1}: ` : ''}${(err as Error).message}`);
      }
      return given!;
    });
    return checked.map((document) => {
      const text = typeof document['mime'] === 'string' ? document['mime'] : undefined;
      const mime = new MimeJson([Buffer.from(text ?? '', 'utf8')], false);
      const envelope =
        request.envelope ??
        (typeof document['envelope'] === 'string' ? document['envelope'] : undefined) ??
        (text !== undefined ? envelopeFromMime(Buffer.from(text, 'latin1')) : undefined) ??
        '';
      const recipients = request.recipients?.length ? request.recipients : [document['recipient'] as string];
      const common = this.#common();
      const documents = recipients.map((recipient) => ({
        ...document,
        'message-id': this.#nextId(),
        ...common,
        envelope,
        recipient,
        ...(text !== undefined ? { mime: mime.placeholder } : {}),
        ...request.origin,
      }));
      return { documents, mime, report: false };
    });
  }
}
