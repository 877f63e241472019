import type { FastifyRequest } from 'fastify';
import type { SessionSigner } from './session.js';

/** The hidden form field that carries the CSRF token. */
export const CSRF_FIELD = 'csrf';

/**
 * The CSRF token of a session (or of a login form's nonce): an HMAC of its random id, so it needs
 * no storage, differs per login, and cannot be made without the process's key.
 */
export function csrfToken(signer: SessionSigner, id: string): string {
  return signer.mac('csrf', id);
}

/**
 * Whether a POST may act: the form's token matches the session's, and, when the browser says
 * where the request came from (`Origin`, else `Referer`), that is this very host. The SameSite
 * cookie already keeps other sites' forms out; these two checks hold even for browsers or
 * proxies that drop it.
 */
export function csrfValid(signer: SessionSigner, id: string, request: FastifyRequest): boolean {
  const body = request.body as Record<string, unknown> | undefined;
  const given = body?.[CSRF_FIELD];
  if (typeof given !== 'string' || !signer.verifyMac('csrf', id, given)) return false;
  return sameOrigin(request);
}

function sameOrigin(request: FastifyRequest): boolean {
  const source = request.headers.origin ?? request.headers.referer;
  if (source === undefined) return true;
  if (source === 'null') return false;
  try {
    return new URL(source).host === request.headers.host;
  } catch {
    return false;
  }
}
