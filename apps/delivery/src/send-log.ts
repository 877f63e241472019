import type { Config } from '@mtaq/config';
import { tryParseTime, type OutgoingMessage, type ResultEntry } from '@mtaq/envelope';
import { compileLogFormat, formatLogDate, openLineFile, type LineFile, type Logger, type Template } from '@mtaq/log';

/** The variables of `send-log-format` (reference §2.5). */
export const SEND_LOG_VARIABLES = ['email', 'result', 'attempt', 'date'] as const;

/**
 * `send-log-file`: one line per delivery attempt, as `send-log-format` writes it. `{$email.x}` is a
 * property of the message as it was attempted, `{$result.x}` one of the attempt's result entry,
 * `{$attempt}` the attempt's number (1 for the first), `{$date}` the result's time
 * (`YYYY-MM-DD HH:MM:SS`, UTC).
 */
export class SendLog {
  readonly #file: LineFile;
  readonly #template: Template;

  private constructor(file: LineFile, template: Template) {
    this.#file = file;
    this.#template = template;
  }

  /** Undefined while `send-log-file` is empty. A template that cannot be read stops the start-up. */
  static fromConfig(config: Partial<Pick<Config, 'send-log-file' | 'send-log-format'>>, logger: Logger): SendLog | undefined {
    const path = config['send-log-file'];
    if (!path) return undefined;
    const template = compileLogFormat('send-log-format', config['send-log-format'] ?? '', SEND_LOG_VARIABLES, logger);
    return new SendLog(openLineFile(path, { logger }), template);
  }

  write(message: OutgoingMessage, entry: ResultEntry, attempt: number): void {
    const date = (typeof entry.time === 'string' ? tryParseTime(entry.time) : undefined) ?? new Date();
    this.#file.write(this.#template.render({ email: message, result: entry, attempt, date: formatLogDate(date) }));
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }
}
