export {
  AuthConfigError,
  maskAuthUrl,
  safeEqual,
  type AuthBackend,
  type AuthFailureReason,
  type AuthMethod,
  type AuthRequest,
  type AuthResult,
} from './backend.js';
export { createAuthBackend, type AuthBackendOptions } from './factory.js';
export { HardcodedBackend } from './hardcoded.js';
export { PasswdFileBackend, parsePasswdFile } from './passwd-file.js';
export { HttpBackend } from './http.js';
export { ExecBackend } from './exec.js';
export { LdapBackend, escapeDnValue } from './ldap.js';
export { RadiusBackend } from './radius.js';
export { parseCsv, CsvSyntaxError, type CsvRecord } from './csv.js';
export { CsvUsers, parseCsvUsers, type CsvUser, type CsvUserColumns, type CsvUsersOptions } from './csv-users.js';
export { CsvNetworks, parseCsvNetworks, type CsvNetworksOptions } from './csv-networks.js';
export type { BasicAuth, ProvisioningSource } from './provisioning.js';
export {
  hashPassword,
  verifyPassword,
  storedPasswordKind,
  PasswordFormatError,
  type PasswordScheme,
  type StoredPasswordKind,
} from './passwords.js';
export { cramMd5Verify, cramMd5Response } from './cram-md5.js';
export { LoginThrottle, type LoginThrottleOptions } from './throttle.js';
export { clientKey } from './throttle.js';
export { AuthGuard, accountDelay, accountHash, type AuthGuardOptions } from './guard.js';
