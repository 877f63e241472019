import { where, type ConfigWarning } from './errors.js';
import { keyDef } from './schema.js';
import type { Setting } from './sources.js';

/** What the operator is told about a key the schema marks `unsupported`. */
export const NO_EFFECT = 'has no effect in this version (not implemented yet)';

/**
 * One warning per line, option or variable that sets a key nothing acts on yet, named as written
 * (an alias stays an alias), so a MailerQ configuration loads but never silently promises more
 * than mtaq does. Built-in defaults are not settings and never warn.
 */
export function unsupportedWarnings(settings: readonly Setting[]): ConfigWarning[] {
  return settings
    .filter((setting) => keyDef(setting.key).status === 'unsupported')
    .map((setting) => ({
      message: `${where(setting.origin, setting.name)}: ${NO_EFFECT}`,
      file: setting.origin.file,
      line: setting.origin.line,
      key: setting.key,
    }));
}
