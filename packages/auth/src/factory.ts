import { fileURLToPath } from 'node:url';
import { type Logger, silentLogger } from '@mtaq/log';
import { AuthConfigError, maskAuthUrl, type AuthBackend } from './backend.js';
import { ExecBackend } from './exec.js';
import { HardcodedBackend } from './hardcoded.js';
import { HttpBackend } from './http.js';
import { LdapBackend } from './ldap.js';
import { PasswdFileBackend } from './passwd-file.js';
import { RadiusBackend } from './radius.js';

export interface AuthBackendOptions {
  /** Seconds a remote backend (http, exec, ldap, radius) may take for one login. */
  timeout: number;
  logger?: Logger;
}

/**
 * The backend for an `smtp-auth` URL (MailerQ §8.2). Everything that can be checked without a
 * login is checked here — syntax, files readable and well-formed, programs executable — so a bad
 * URL fails start-up instead of every login.
 * @throws AuthConfigError whose message shows the URL with its passwords masked.
 */
export function createAuthBackend(url: string, options: AuthBackendOptions): AuthBackend {
  const logger = (options.logger ?? silentLogger).child({ component: 'auth' });
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  const backendOptions = { timeout: options.timeout, logger };
  switch (scheme) {
    case 'hardcoded':
      return new HardcodedBackend(url);
    case 'file': {
      let path: string;
      try {
        path = fileURLToPath(url);
      } catch (error) {
        throw new AuthConfigError(`${maskAuthUrl(url)}: expected file:///absolute/path`, { cause: error });
      }
      return new PasswdFileBackend(path, logger);
    }
    case 'http':
    case 'https':
      return new HttpBackend(url, backendOptions);
    case 'exec':
      return new ExecBackend(url, backendOptions);
    case 'ldap':
    case 'ldaps':
      return new LdapBackend(url, backendOptions);
    case 'radius':
      return new RadiusBackend(url, backendOptions);
    case 'users':
      throw new AuthConfigError(
        `${maskAuthUrl(url)}: users:// (local system accounts) is not supported; use file:// with crypt(3) hashes or exec:// with a PAM helper`,
      );
    default:
      throw new AuthConfigError(
        `unsupported auth backend ${maskAuthUrl(url)} (expected hardcoded://, file://, http(s)://, exec://, ldap(s)://, radius://)`,
      );
  }
}
