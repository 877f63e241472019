import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Keys that may carry credentials anywhere in a log record. pino replaces them before the line is
 * serialised, so a careless `log.info({ auth })` can never write a password.
 */
const REDACT = [
  'password',
  'pass',
  'secret',
  '*.password',
  '*.pass',
  '*.secret',
  'auth.password',
  'user.password',
  'credentials',
  '*.credentials',
];

/** One JSON-lines logger per process; children add `component`, `sid` (session) and `mid` fields. */
export function createLogger(options: { level?: LogLevel; name?: string; destination?: number } = {}): Logger {
  const opts: LoggerOptions = {
    name: options.name ?? 'mtaq',
    level: options.level ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(opts, pino.destination({ dest: options.destination ?? 1, sync: false }));
}

/** A logger that writes nothing, for library callers that did not pass one. */
export const silentLogger: Logger = pino({ level: 'silent' });

export { LineFile, openLineFile, type LineFileOptions } from './line-file.js';
export { asText, compileLogFormat, compileTemplate, TemplateError, unknownVariables, type Template, type TemplateContext } from './template.js';
export { formatLogDate } from './log-date.js';
