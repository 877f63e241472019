import { applySource, buildConfig, emptyDraft, type Built } from './build.js';
import { ConfigError, type ConfigWarning, type Origin } from './errors.js';
import { lookupKey, type Config, type ConfigKey } from './schema.js';
import { readConfigText, type Setting } from './sources.js';
import { unknownKeyMessage } from './suggest.js';
import { unsupportedWarnings } from './unsupported.js';

export interface ParsedText {
  /** Every recognised line, in file order. */
  readonly settings: readonly Setting[];
  /** The value each key set in the text ends up with (later lines win; canonical names beat aliases). */
  readonly values: Partial<Config>;
  readonly warnings: ConfigWarning[];
}

/**
 * Parses config file text on its own (no defaults, no cross-key checks).
 * @throws ConfigError listing every bad line.
 */
export function parseConfigText(text: string, fileName: string): ParsedText {
  const read = readConfigText(text, fileName);
  const draft = emptyDraft();
  const errors = [...read.errors];
  applySource(draft, read.settings, errors);
  if (errors.length > 0) throw ConfigError.aggregate(errors);
  const keys = new Set<ConfigKey>(read.settings.map((s) => s.key));
  const values = Object.fromEntries([...keys].map((key) => [key, draft.values.get(key)])) as Partial<Config>;
  const warnings = [...read.warnings, ...unsupportedWarnings(read.settings)].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return { settings: read.settings, values, warnings };
}

/**
 * A complete Config from defaults plus `values` in file syntax (`{ 'smtp-port': '2525' }`), without
 * touching files, argv or the environment: for tests and embedding.
 * @throws ConfigError on unknown keys or bad values.
 */
export function configFromValues(values: Readonly<Record<string, string>> = {}): Built {
  const errors: ConfigError[] = [];
  const settings: Setting[] = [];
  for (const [name, value] of Object.entries(values)) {
    const origin: Origin = { file: 'override', text: `override ${name}`, namesKey: true };
    const key = lookupKey(name);
    if (key === undefined) {
      errors.push(new ConfigError({ origin, key: name, expected: 'a known key', message: `${origin.text}: ${unknownKeyMessage(name)}` }));
      continue;
    }
    settings.push({ key, name, value: value.trim(), origin });
  }
  return buildConfig([{ settings, errors }], []);
}
