import type { Config } from '@mtaq/config';
import { SmtpReplyError } from '@mtaq/errors';
import { CidrList } from '@mtaq/net';
import { AddressPatterns } from './address-patterns.js';

export interface Client {
  readonly remoteAddress: string;
  /** Set once the client authenticated. */
  readonly user?: unknown;
}

/**
 * Who may send what (reference §8.1–§8.3): trusted ranges (`smtp-range`, plus provisioned trusted
 * networks) and authenticated users relay anywhere; everyone else may only mail Local Addresses.
 * Nothing here makes an open relay: with no ranges, no logins and no local addresses, an outside
 * client is refused at connect because there is nothing it could legitimately do.
 */
export class AccessPolicy {
  readonly #config: Config;
  readonly #trusted: () => CidrList;
  readonly #local: AddressPatterns;
  readonly #senderAllow: AddressPatterns;
  readonly #recipientDeny: AddressPatterns;
  readonly #authConfigured: boolean;

  constructor(config: Config, options: { authConfigured: boolean; trustedNetworks?: () => CidrList }) {
    this.#config = config;
    this.#trusted = options.trustedNetworks ?? (() => CidrList.empty);
    this.#local = AddressPatterns.load(config['smtp-local-addresses'], config['smtp-local-addresses-file']);
    this.#senderAllow = new AddressPatterns(config['smtp-sender-allow']);
    this.#recipientDeny = new AddressPatterns(config['smtp-recipient-deny']);
    this.#authConfigured = options.authConfigured;
  }

  isTrusted(ip: string): boolean {
    return this.#config['smtp-range'].contains(ip) || this.#trusted().contains(ip);
  }

  isLocal(address: string): boolean {
    return this.#local.matches(address);
  }

  /** At connect: the block-list, and outsiders who could neither log in nor mail a local address (C10). */
  connect(ip: string): SmtpReplyError | undefined {
    if (this.#config['smtp-protection'] && this.#config['smtp-blocklist'].contains(ip)) {
      return new SmtpReplyError(`${ip} is on the block-list`, 554, '5.7.1');
    }
    if (!this.isTrusted(ip) && !this.#authConfigured && this.#local.isEmpty) {
      return new SmtpReplyError(`${ip} is not allowed to connect`, 554, '5.7.1');
    }
    return undefined;
  }

  mailFrom(address: string): SmtpReplyError | undefined {
    if (!this.#senderAllow.isEmpty && !this.#senderAllow.matches(address)) {
      return new SmtpReplyError(`sender <${address}> is not allowed here`, 550, '5.7.1');
    }
    return undefined;
  }

  rcptTo(address: string, client: Client): SmtpReplyError | undefined {
    if (this.#recipientDeny.matches(address)) return new SmtpReplyError(`recipient <${address}> is refused`, 550, '5.7.1');
    if (client.user || this.isTrusted(client.remoteAddress) || this.isLocal(address)) return undefined;
    if (this.#authConfigured) return new SmtpReplyError('Authentication required', 530, '5.7.0');
    return new SmtpReplyError(`relaying to <${address}> denied`, 554, '5.7.1');
  }
}
