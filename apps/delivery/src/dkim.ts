import { readFileSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import DKIM from 'nodemailer/lib/dkim';
import type { Config } from '@mtaq/config';
import type { DkimKey, OutgoingMessage } from '@mtaq/envelope';

/**
 * DKIM signing with nodemailer's signer: the keys a message carries (`dkim`, §4) plus the one from
 * config (`dkim-domain`, `dkim-selector`, `dkim-key`). Expired keys (`expire` in the past) are skipped.
 */
export class DkimSigner {
  readonly #configKey: DkimKey | undefined;

  private constructor(configKey: DkimKey | undefined) {
    this.#configKey = configKey;
  }

  static fromConfig(config: Config): DkimSigner {
    const domain = config['dkim-domain'];
    if (!domain) return new DkimSigner(undefined);
    return new DkimSigner({ domain, selector: config['dkim-selector'], key: readFileSync(config['dkim-key'], 'utf8') });
  }

  async sign(message: OutgoingMessage, mime: Buffer): Promise<Buffer> {
    const now = Date.now();
    const own = message.dkim === undefined ? [] : Array.isArray(message.dkim) ? message.dkim : [message.dkim];
    const keys = [...own, ...(this.#configKey ? [this.#configKey] : [])].filter(
      (k) => !k.expire || Date.parse(`${k.expire.replace(' ', 'T')}Z`) > now,
    );
    if (keys.length === 0) return mime;
    const signer = new DKIM({
      keys: keys.map((k) => ({ domainName: k.domain, keySelector: k.selector, privateKey: k.key })),
    });
    return buffer(signer.sign(mime));
  }
}
