import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from '@mtaq/config';
import {
  createMessageIdGenerator,
  encodeMessage,
  extractMqHeaders,
  formatTime,
  isValidMailbox,
  readHeaderFields,
  receivedHeader,
  receivedProtocol,
  type SmtpIncomingMessage,
} from '@mtaq/envelope';
import { PublishError } from '@mtaq/errors';
import type { Logger } from '@mtaq/log';
import type { Publisher } from '@mtaq/queue';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { AccessPolicy } from './policy/access-policy.js';
import type { Authenticator } from './policy/authenticator.js';
import { ConnectionLimits } from './policy/connection-limits.js';
import { buildIncoming } from './message/documents.js';
import { callbackError, smtpError, type SmtpCallbackError } from './smtp/callback-error.js';
import { replies, replyError, replyText, type Reply } from './smtp/replies.js';
import { MtaqSMTPServer, type MtaqServerOptions } from './smtp/server.js';
import { mappedSourceIps } from './message/source-ip.js';

export interface IngressDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly publisher: Publisher;
  readonly policy: AccessPolicy;
  readonly authenticator: Authenticator;
}

export interface Listener {
  readonly address: string;
  readonly port: number;
  readonly secure: boolean;
}

/**
 * The SMTP side of mtaq: listeners on every `smtp-ip` × `smtp-port` (plus implicit-TLS ports),
 * turning each accepted message into one JSON document per recipient on the inbox queue. The
 * client's 250 is sent only after RabbitMQ confirmed every one of those publishes.
 */
export class Ingress {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #publisher: Publisher;
  readonly #nextId: () => string;
  readonly #servers: MtaqSMTPServer[] = [];
  readonly #policy: AccessPolicy;
  readonly #auth: Authenticator;
  readonly #limits: ConnectionLimits;

  constructor(deps: IngressDeps) {
    this.#config = deps.config;
    this.#policy = deps.policy;
    this.#auth = deps.authenticator;
    this.#limits = new ConnectionLimits(deps.config['smtp-connections-per-ip'], deps.config['smtp-connection-rate-per-ip']);
    this.#log = deps.logger.child({ component: 'ingress' });
    this.#publisher = deps.publisher;
    this.#nextId = createMessageIdGenerator(deps.config['server-id']);
  }

  /** Opens every listener; rejects (closing those already open) if any address cannot be bound. */
  async listen(): Promise<Listener[]> {
    const config = this.#config;
    const hosts: Array<string | undefined> = config['smtp-ip'].length ? [...config['smtp-ip']] : [undefined];
    const plan = [
      ...config['smtp-port'].map((port) => ({ port, secure: false })),
      ...config['smtp-secure-port'].map((port) => ({ port, secure: true })),
    ];
    const tls = this.#tlsOptions();
    const listeners: Listener[] = [];
    try {
      for (const host of hosts) {
        for (const { port, secure } of plan) {
          const server = new MtaqSMTPServer(this.#serverOptions(secure, tls));
          // client-side socket errors (resets, TLS failures) are routine on an MTA: log, never crash
          server.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'smtp connection error'));
          this.#servers.push(server);
          listeners.push(await listenOn(server, port, host, secure));
        }
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#log.info({ listeners }, 'listening');
    return listeners;
  }

  /** Stops accepting; sessions in flight finish their transaction (bounded by smtp-server's closeTimeout). */
  async close(): Promise<void> {
    const servers = this.#servers.splice(0);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #tlsOptions(): { key?: Buffer; cert?: Buffer; ciphers?: string } {
    const config = this.#config;
    if (!config['smtp-certificate'] || !config['smtp-key']) return {};
    return {
      cert: readFileSync(config['smtp-certificate']),
      key: readFileSync(config['smtp-key']),
      ...(config['smtp-ciphers'] ? { ciphers: config['smtp-ciphers'] } : {}),
    };
  }

  #serverOptions(secure: boolean, tls: { key?: Buffer; cert?: Buffer }): MtaqServerOptions {
    const config = this.#config;
    const delayMs = config['smtp-greeting-delay'] * 1000;
    const exempt = config['smtp-greeting-delay-exempt'];
    return {
      ...tls,
      secure,
      name: config['smtp-hostname'],
      size: config['smtp-maxsize'],
      rejectOversized: true,
      socketTimeout: config['smtp-timeout'] * 1000,
      maxRecipients: config['smtp-max-recipients'],
      // smtp-max-errors: 4xx/5xx replies without delivering mail before 421 4.7.0 (smtp-server.ts)
      maxErrors: config['smtp-max-errors'],
      requireTls: config['smtp-require-tls'],
      // smtp-proxy: listed peers start with a PROXY v1/v2 header; its client address is the session's
      proxy: config['smtp-proxy'],
      onProxyError: (err, peer) => this.#log.debug({ peer, code: err.code, err: err.message }, 'PROXY header refused, connection closed'),
      // smtp-server's own check answers 501; we validate per smtp-validate-address and answer 553
      lenientAddressParsing: true,
      hideSTARTTLS: !tls.cert,
      hideDSN: !config['dsn-advertise'],
      hideENHANCEDSTATUSCODES: false,
      // no backend, no AUTH: the command is not even advertised
      ...(this.#auth.configured ? {} : { disabledCommands: ['AUTH'] }),
      authMethods: this.#auth.mechanisms,
      allowInsecureAuth: config['smtp-auth-insecure'],
      authOptional: true,
      ...(config['smtp-connections-in'] > 0 ? { maxClients: config['smtp-connections-in'] } : {}),
      onAuth: (auth, session, callback) => this.#auth.onAuth(auth, session, callback),
      onClose: (session) => {
        if ((session as { admitted?: boolean }).admitted) this.#limits.leave(session.remoteAddress);
      },
      disableReverseLookup: true,
      logger: false,
      greetingDelay: (ip) => (delayMs > 0 && !exempt.contains(ip) ? delayMs : 0),
      onConnect: (session, callback) => this.#onConnect(session, callback),
      onMailFrom: (address, session, callback) => callback(this.#onMailFrom(address.address, session)),
      onRcptTo: (address, session, callback) => callback(this.#onRcptTo(address.address, session)),
      onData: (stream, session, callback) => this.#onData(stream, session, callback),
    };
  }

  /** Reference §8.1 steps 3–4: block-list and relay policy, then the per-client connection caps. */
  #onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const ip = session.remoteAddress;
    const refusal = this.#policy.connect(ip) ?? this.#limits.enter(ip);
    if (refusal) {
      this.#log.info({ sid: session.id, remote: ip, reason: refusal.text }, 'connection refused');
      callback(callbackError(refusal));
      return;
    }
    (session as { admitted?: boolean }).admitted = true;
    callback();
  }

  #onMailFrom(address: string, session: SMTPServerSession): SmtpCallbackError | null {
    const refusal = this.#checkAddress(address, 'sender', true) ?? this.#policy.mailFrom(address);
    return refusal ? callbackError(refusal) : null;
  }

  #onRcptTo(address: string, session: SMTPServerSession): SmtpCallbackError | null {
    const refusal = this.#checkAddress(address, 'recipient', false) ?? this.#policy.rcptTo(address, session);
    if (refusal) this.#log.info({ sid: session.id, remote: session.remoteAddress, rcpt: address, reason: refusal.text }, 'recipient refused');
    return refusal ? callbackError(refusal) : null;
  }

  /** `smtp-validate-address` (reference §8.3); the null sender `<>` is always allowed. */
  #checkAddress(address: string, role: 'sender' | 'recipient', nullAllowed: boolean): Reply | undefined {
    if (address === '' && nullAllowed) return undefined;
    if (isValidMailbox(address, this.#config['smtp-validate-address'])) return undefined;
    return replies.invalidMailbox(role, address);
  }

  #onData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    callback: (err?: Error | null, message?: string) => void,
  ): void {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => {
      // past the limit the rest is only drained; smtp-server answers 552 5.3.4 itself
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.once('end', () => {
      if (stream.sizeExceeded) {
        callback(smtpError(replyError(replies.messageTooBig)));
        return;
      }
      this.#queue(Buffer.concat(chunks), session).then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(smtpError(err)),
      );
    });
  }

  /** Turns one received message into per-recipient JSON and publishes it; returns the 250 text. */
  async #queue(raw: Buffer, session: SMTPServerSession): Promise<string> {
    const config = this.#config;
    const log = this.#log.child({ sid: session.id });
    let body = raw;
    let extracted: Record<string, unknown> = {};
    if (config['smtp-extract']) {
      const result = extractMqHeaders(raw);
      body = result.mime;
      for (const warning of result.warnings) log.warn({ warning }, 'ignored x-mq header');
      // x-mq headers steer delivery (smarthost, source IP, envelope): only trusted or logged-in
      // clients may use them; from anyone else they are removed and ignored
      if (session.user || this.#policy.isTrusted(session.remoteAddress)) extracted = result.properties;
      else if (Object.keys(result.properties).length) log.warn({ properties: Object.keys(result.properties) }, 'x-mq headers from an untrusted client removed');
    }
    const now = new Date();
    const received = receivedHeader({
      from: session.hostNameAppearsAs || '',
      remoteIp: session.remoteAddress,
      hostname: config['smtp-hostname'],
      protocol: receivedProtocol({
        esmtp: session.openingCommand !== 'HELO',
        tls: session.secure,
        auth: Boolean(session.user),
        utf8: Boolean(session.envelope.smtpUtf8),
      }),
      id: session.id,
      recipient: session.envelope.rcptTo.length === 1 ? session.envelope.rcptTo[0]!.address : undefined,
      tls: session.tlsOptions ? { version: session.tlsOptions.version, cipher: session.tlsOptions.name } : undefined,
      date: now,
    });
    const messages = buildIncoming(
      {
        received: formatTime(now),
        hostname: config['smtp-hostname'],
        mime: Buffer.concat([Buffer.from(received, 'utf8'), body]),
        session,
        extracted,
        mappedIps: mappedSourceIps(session.localAddress, config['smtp-mappable-ips'], config['smtp-unmappable-ips']),
      },
      this.#nextId,
    );
    await this.#publishAll(messages, body, log);
    log.info(
      { mids: messages.map((m) => m['message-id']), from: messages[0]?.envelope, rcpts: messages.length, bytes: raw.length },
      'queued',
    );
    return replyText(replies.queued(messages.map((m) => ({ id: m['message-id'], recipient: m.recipient }))));
  }

  /**
   * Reference §3 routing: a Local Address recipient goes to `rabbitmq-reports` when the message is a
   * report and that queue is set, else to `rabbitmq-local` when set; everything else to the inbox.
   * An empty queue name means "accept and drop" (C18).
   */
  #queueFor(message: SmtpIncomingMessage, isReport: () => boolean): string {
    const config = this.#config;
    if (this.#policy.isLocal(message.recipient)) {
      if (config['rabbitmq-reports'] && isReport()) return config['rabbitmq-reports'];
      if (config['rabbitmq-local']) return config['rabbitmq-local'];
    }
    return config['rabbitmq-inbox'];
  }

  async #publishAll(messages: SmtpIncomingMessage[], body: Buffer, log: Logger): Promise<void> {
    let report: boolean | undefined;
    const isReport = (): boolean =>
      (report ??= readHeaderFields(body).some((f) => f.name === 'content-type' && REPORT_TYPE.test(f.value)));
    const targets = messages.map((m) => ({ message: m, queue: this.#queueFor(m, isReport) })).filter((t) => t.queue !== '');
    const gzip = this.#config['rabbitmq-encoding'] === 'gzip';
    const withPriority = (this.#config['rabbitmq-maxpriority'] ?? 0) > 0;
    const results = await Promise.allSettled(
      targets.map(({ message, queue }) => {
        const { body, contentEncoding } = encodeMessage(message, { gzip });
        const priority = withPriority && typeof message['priority'] === 'number' ? message['priority'] : undefined;
        return this.#publisher.publish(queue, body, {
          messageId: message['message-id'],
          ...(contentEncoding ? { contentEncoding } : {}),
          ...(priority !== undefined ? { priority } : {}),
        });
      }),
    );
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ mid: targets[i]!.message['message-id'], err: r.reason as Error }] : []));
    if (failed.length === 0) return;
    const confirmed = targets.filter((_, i) => results[i]!.status === 'fulfilled').map((t) => t.message['message-id']);
    // the client retries the whole message, so confirmed copies become duplicates: say which
    log.error(
      { failed: failed.map((f) => f.mid), confirmed, err: failed[0]!.err.message },
      confirmed.length ? 'partially published, client told to retry' : 'publish failed, client told to retry',
    );
    throw failed[0]!.err instanceof PublishError ? failed[0]!.err : new PublishError(failed[0]!.err.message);
  }
}

/** DSNs, MDNs and DMARC/TLS reports (RFC 6522 multipart/report) at the top level. */
const REPORT_TYPE = /^multipart\/report\b/i;

function listenOn(server: MtaqSMTPServer, port: number, host: string | undefined, secure: boolean): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot listen on ${host ?? '*'}:${port}: ${err.code ?? err.message}`));
    };
    server.server.once('error', onError);
    server.server.listen(port, host, () => {
      server.server.off('error', onError);
      const address = server.server.address() as AddressInfo;
      resolve({ address: address.address, port: address.port, secure });
    });
  });
}
