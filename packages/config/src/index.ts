export { loadConfig, SYSTEM_CONFIG_FILE, LOCAL_CONFIG_FILE, type LoadOptions, type LoadResult } from './load.js';
export { parseConfigText, configFromValues, type ParsedText } from './text.js';
export { formatConfig, type FormatOptions } from './format.js';
export { ConfigError, type ConfigWarning, type Origin } from './errors.js';
export {
  schema,
  keyInfo,
  configKeys,
  lookupKey,
  type Config,
  type ConfigKey,
  type ValueOf,
  type KeyDef,
  type KeyInfo,
  type KeyStatus,
  type Group,
} from './schema.js';
export { parseAmqpAddresses } from './amqp.js';
export { maskUrl } from './parsers.js';
export { NO_EFFECT } from './unsupported.js';
export type { Built } from './build.js';
export type { Setting } from './sources.js';
export type { ValueType, LimitRule } from './parsers.js';
export { exposureWarnings } from './exposure.js';
