import { ConfigError, type ConfigWarning, type Origin } from './errors.js';
import { bool, parseBoolean } from './parsers.js';
import { keyDef, lookupKey, type ConfigKey } from './schema.js';
import { unknownKeyMessage } from './suggest.js';

/** One `name: value` as found in a file, on the command line or in the environment. */
export interface Setting {
  readonly key: ConfigKey;
  /** The name as written (may be an alias). */
  readonly name: string;
  readonly value: string;
  readonly origin: Origin;
}

export interface SourceRead {
  readonly settings: Setting[];
  readonly warnings: ConfigWarning[];
  readonly errors: ConfigError[];
}

/** Lines of a config file (§2.1): `name: value`, `#` comments, blank lines; unknown names only warn. */
export function readConfigText(text: string, fileName: string): SourceRead {
  const read: SourceRead = { settings: [], warnings: [], errors: [] };
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const origin: Origin = { file: fileName, line, text: `${fileName}:${line}` };
    const colon = trimmed.indexOf(':');
    const name = colon < 0 ? '' : trimmed.slice(0, colon).trim();
    if (name === '' || /\s/.test(name)) {
      read.errors.push(new ConfigError({ origin, key: '', expected: 'a "name: value" line', given: trimmed }));
      return;
    }
    const key = lookupKey(name);
    if (key === undefined) {
      read.warnings.push({ message: `${origin.text}: ${unknownKeyMessage(name)}`, file: fileName, line });
      return;
    }
    read.settings.push({ key, name, value: trimmed.slice(colon + 1).trim(), origin });
  });
  return read;
}

export interface ArgvRead extends SourceRead {
  /** `--config-file` values in the order given, with where they were given. */
  readonly configFiles: { readonly path: string; readonly origin: Origin }[];
  /** Everything that is not a config option, in the original order. */
  readonly rest: string[];
}

const CONFIG_FILE = 'config-file';

/**
 * `--key value`, `--key=value`, a bare `--bool-key` (true) and `--no-bool-key` (false). Positional
 * words, single-dash flags, unknown `--options` and everything after `--` go to `rest` untouched,
 * so the CLI can decide what they mean.
 */
export function readArgv(argv: readonly string[]): ArgvRead {
  const read: ArgvRead = { settings: [], warnings: [], errors: [], configFiles: [], rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      read.rest.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      read.rest.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).toLowerCase();
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const origin: Origin = { file: 'command line', text: `command line --${name}`, namesKey: true };
    const next = argv[i + 1];
    const takesNext = next !== undefined && !next.startsWith('--');

    if (name === CONFIG_FILE) {
      if (inline === undefined && !takesNext) {
        read.errors.push(missingValue(origin, CONFIG_FILE));
        continue;
      }
      read.configFiles.push({ path: inline ?? (next as string), origin });
      if (inline === undefined) i++;
      continue;
    }

    const key = lookupKey(name);
    const negated = key === undefined && name.startsWith('no-') ? lookupKey(name.slice(3)) : undefined;
    if (negated !== undefined && keyDef(negated).type === bool && inline === undefined) {
      read.settings.push({ key: negated, name: name.slice(3), value: 'false', origin });
      continue;
    }
    if (key === undefined) {
      read.rest.push(arg);
      continue;
    }
    if (inline !== undefined) {
      read.settings.push({ key, name, value: inline.trim(), origin });
    } else if (keyDef(key).type === bool) {
      // A following true/false word belongs to the flag; anything else is the next argument.
      const explicit = next !== undefined && parseBoolean(next) !== undefined;
      read.settings.push({ key, name, value: explicit ? (next as string) : 'true', origin });
      if (explicit) i++;
    } else if (takesNext) {
      read.settings.push({ key, name, value: (next as string).trim(), origin });
      i++;
    } else {
      read.errors.push(missingValue(origin, key));
    }
  }
  return read;
}

function missingValue(origin: Origin, key: string): ConfigError {
  return new ConfigError({ origin, key, expected: 'a value', message: `${origin.text}: expected a value after it` });
}

export interface EnvRead extends SourceRead {
  readonly configFile?: { readonly path: string; readonly origin: Origin } | undefined;
}

const ENV_PREFIX = 'MTAQ_';
/** MTAQ_ variables that are not settings: MTAQ_DEBUG makes the CLI print stack traces. */
const NOT_SETTINGS = new Set(['debug']);

/** `MTAQ_SMTP_PORT=2600` → `smtp-port`; `MTAQ_CONFIG_FILE` names the config file. */
export function readEnv(env: NodeJS.ProcessEnv): EnvRead {
  const read: { -readonly [P in keyof EnvRead]: EnvRead[P] } = { settings: [], warnings: [], errors: [] };
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(ENV_PREFIX) || value === undefined) continue;
    const name = variable.slice(ENV_PREFIX.length).toLowerCase().replace(/_/g, '-');
    const origin: Origin = { file: 'environment', text: `environment ${variable}`, namesKey: true };
    if (name === CONFIG_FILE) {
      if (value !== '') read.configFile = { path: value, origin };
      continue;
    }
    if (NOT_SETTINGS.has(name)) continue;
    const key = lookupKey(name);
    if (key === undefined) {
      read.warnings.push({ message: `${origin.text}: ${unknownKeyMessage(name)}`, file: 'environment' });
      continue;
    }
    read.settings.push({ key, name, value: value.trim(), origin });
  }
  return read;
}
