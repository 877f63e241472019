import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { buildConfig, type Source } from './build.js';
import { ConfigError, type ConfigWarning, type Origin } from './errors.js';
import type { Config } from './schema.js';
import { readArgv, readConfigText, readEnv } from './sources.js';

export const SYSTEM_CONFIG_FILE = '/etc/mtaq/mtaq.conf';
/** Looked up relative to the working directory when no `--config-file` is given. */
export const LOCAL_CONFIG_FILE = 'etc/mtaq.conf';

export interface LoadOptions {
  /** Arguments after the program name; default `process.argv.slice(2)`. */
  readonly argv?: readonly string[];
  /** Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Base for relative paths; default `process.cwd()`. */
  readonly cwd?: string;
  /** System-wide file read first if it exists; `null` skips it. Default `/etc/mtaq/mtaq.conf`. */
  readonly systemFile?: string | null;
}

export interface LoadResult {
  readonly config: Config;
  readonly warnings: ConfigWarning[];
  /** Command-line words that are not config options (sub-commands, `--help`, ...), in order. */
  readonly rest: string[];
  /** Key → where its effective value came from: `default`, `etc/mtaq.conf:7`, `command line --smtp-port`, ... */
  readonly sources: ReadonlyMap<string, string>;
  /** Config files that were read, in load order. */
  readonly files: readonly string[];
}

/**
 * Defaults → system file → config file (`--config-file`, else `MTAQ_CONFIG_FILE`, else
 * `./etc/mtaq.conf` if present) → command line → `MTAQ_*` environment, each overriding the last.
 * @throws ConfigError listing every problem found (`error.errors`).
 */
export function loadConfig(options: LoadOptions = {}): LoadResult {
  const cwd = options.cwd ?? process.cwd();
  const argv = readArgv(options.argv ?? process.argv.slice(2));
  const env = readEnv(options.env ?? process.env);
  const warnings: ConfigWarning[] = [];
  const layers: Source[] = [];
  const files: string[] = [];

  const readFile = (path: string, required: Origin | undefined): void => {
    const absolute = resolve(cwd, path);
    const name = displayPath(absolute, cwd);
    let text: string;
    try {
      text = readFileSync(absolute, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && required === undefined) return;
      const origin = required ?? { file: name, text: name, namesKey: true };
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
      const error = new ConfigError({
        origin,
        key: 'config-file',
        expected: 'a readable config file',
        given: path,
        message: `${origin.text}: cannot read config file ${JSON.stringify(path)}: ${why}`,
      });
      layers.push({ settings: [], errors: [error] });
      return;
    }
    layers.push(readConfigText(text, name));
    files.push(name);
  };

  const systemFile = options.systemFile === undefined ? SYSTEM_CONFIG_FILE : options.systemFile;
  if (systemFile !== null) readFile(systemFile, undefined);
  const explicit = argv.configFiles.length > 0 ? argv.configFiles : env.configFile === undefined ? [] : [env.configFile];
  if (explicit.length > 0) {
    for (const file of explicit) readFile(file.path, file.origin);
  } else if (systemFile === null || resolve(cwd, LOCAL_CONFIG_FILE) !== resolve(cwd, systemFile)) {
    readFile(LOCAL_CONFIG_FILE, undefined);
  }
  layers.push(argv, env);

  const built = buildConfig(layers, warnings);
  return { config: built.config, warnings: built.warnings, rest: argv.rest, sources: built.sources, files };
}

function displayPath(absolute: string, cwd: string): string {
  const rel = relative(cwd, absolute);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absolute;
}
