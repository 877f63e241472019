import { createHmac } from 'node:crypto';
import { safeEqual } from './backend.js';

/**
 * RFC 2195: the client proves it knows `secret` by answering HMAC-MD5(secret, challenge) in hex.
 * `response` is that hex digest (the part of the decoded answer after the user name); case is
 * ignored because RFC 2195 asks for lower case but some clients send upper case.
 */
export function cramMd5Verify(secret: string, challenge: string, response: string): boolean {
  const expected = createHmac('md5', secret).update(challenge).digest('hex');
  return safeEqual(expected, response.trim().toLowerCase());
}

/** What a client computes; for tests and for the ingress's own self-checks. */
export function cramMd5Response(secret: string, challenge: string): string {
  return createHmac('md5', secret).update(challenge).digest('hex');
}
