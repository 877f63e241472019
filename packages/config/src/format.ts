import { configKeys, keyDef, type Config } from './schema.js';

export interface FormatOptions {
  /** Print credentials instead of `********` (only for writing a file the operator asked for). */
  readonly showSecrets?: boolean;
}

/**
 * The effective configuration in file syntax, in schema order with a comment heading per group,
 * credentials masked. With `sources`, each value not at its default is preceded by a
 * `# from <where>` line; comments go on their own line because inline text would become part of
 * the value when the output is read back.
 */
export function formatConfig(config: Config, sources?: ReadonlyMap<string, string>, options: FormatOptions = {}): string {
  const width = Math.max(...configKeys.map((key) => key.length)) + 2;
  const lines: string[] = [];
  let group = '';
  for (const key of configKeys) {
    const def = keyDef(key);
    if (def.group !== group) {
      if (group !== '') lines.push('');
      lines.push(`# ${def.group}`);
      group = def.group;
    }
    const value = config[key];
    const text = options.showSecrets !== true && def.type.mask !== undefined ? def.type.mask(value) : def.type.format(value);
    const source = sources?.get(key);
    if (source !== undefined && source !== 'default') lines.push(`# from ${source}`);
    lines.push(text === '' ? `${key}:` : `${`${key}:`.padEnd(width)}${text}`);
  }
  return `${lines.join('\n')}\n`;
}
