import { AuthConfigError, fail, maskAuthUrl, ok, precheck, safeEqual, type AuthBackend, type AuthRequest, type AuthResult } from './backend.js';
import { cramMd5Verify } from './cram-md5.js';

/**
 * `hardcoded://u1:p1,u2:p2`: clear-text pairs from the configuration. A password runs from the
 * first `:` of its pair to the next `,`, so it may contain `:` but not `,`; nothing is
 * percent-decoded. The bare `u1,p1,u2,p2` form the MailerQ docs show once (I10) is refused: the
 * config dump masks only what follows a colon, so that form would print the passwords.
 */
export class HardcodedBackend implements AuthBackend {
  readonly name = 'hardcoded';
  readonly plainSecrets = true;
  readonly #users = new Map<string, string>();

  constructor(url: string) {
    const body = url.replace(/^hardcoded:\/\//i, '');
    for (const [index, raw] of body.split(',').entries()) {
      const pair = raw.trim();
      if (pair === '') continue;
      const colon = pair.indexOf(':');
      if (colon <= 0) {
        // The item is not echoed: in the refused `u1,p1` form it may be a password.
        throw new AuthConfigError(
          `${maskAuthUrl(url)}: item ${index + 1} is not a user:password pair (write hardcoded://user1:pass1,user2:pass2)`,
        );
      }
      const user = pair.slice(0, colon);
      if (this.#users.has(user)) throw new AuthConfigError(`${maskAuthUrl(url)}: user "${user}" is listed twice`);
      this.#users.set(user, pair.slice(colon + 1));
    }
    if (this.#users.size === 0) throw new AuthConfigError(`${maskAuthUrl(url)}: no user:password pairs`);
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const rejected = precheck(request, true);
    if (rejected) return rejected;
    const secret = this.#users.get(request.username);
    // Unknown users still cost one comparison, so timing does not tell which names exist.
    const known = secret !== undefined;
    const good =
      request.method === 'CRAM-MD5'
        ? cramMd5Verify(secret ?? '', request.challenge ?? '', request.challengeResponse ?? '')
        : safeEqual(secret ?? '', request.password ?? '');
    return known && good ? ok(request.username) : fail('invalid');
  }
}
