import type { Config } from '@mtaq/config';
import { CidrList } from '@mtaq/net';
import { replies, type Reply } from '../smtp/replies.js';
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
 *
 * The checks answer with a promise (a refusal from the catalogue, or undefined), so one that has to
 * ask something (Redis, DNS) fits in without changing its callers.
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
  connect(ip: string): Reply | undefined {
    if (this.#config['smtp-protection'] && this.#config['smtp-blocklist'].contains(ip)) {
      return replies.blocklisted(ip);
    }
    if (!this.isTrusted(ip) && !this.#authConfigured && this.#local.isEmpty) {
      return replies.connectNotAllowed(ip);
    }
    return undefined;
  }

  mailFrom(address: string): Reply | undefined {
    if (!this.#senderAllow.isEmpty && !this.#senderAllow.matches(address)) {
      return replies.senderNotAllowed(address);
    }
    return undefined;
  }

  rcptTo(address: string, client: Client): Reply | undefined {
    if (this.#recipientDeny.matches(address)) return replies.recipientRefused(address);
    if (client.user || this.isTrusted(client.remoteAddress) || this.isLocal(address)) return undefined;
    if (this.#authConfigured) return replies.authenticationRequired;
    return replies.relayingDenied(address);
  }
}
