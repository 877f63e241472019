import type { Config } from '@mtaq/config';
import { compileLogFormat, formatLogDate, openLineFile, type LineFile, type Logger, type Template } from '@mtaq/log';

/** The variables of `received-log-format` (reference §2.5). */
export const RECEIVED_LOG_VARIABLES = ['json', 'report', 'date', 'time'] as const;

/**
 * `received-log-file`: one line per JSON document the ingress published for a message received over
 * SMTP, that is one per accepted recipient (reference §2.5 "one line per SMTP-received JSON"; each
 * recipient's copy has its own message-id). `{$json}` is that document without its `mime` (the
 * message itself is not logged), `{$report}` the report summary of a DSN/MDN/ARF/DMARC/TLS-RPT copy
 * (empty otherwise), `{$date}` the reception time as `YYYY-MM-DD HH:MM:SS` (UTC), `{$time}` it in
 * Unix seconds. `{$json.recipient}` and the like reach into the document.
 */
export class ReceivedLog {
  readonly #file: LineFile;
  readonly #template: Template;

  private constructor(file: LineFile, template: Template) {
    this.#file = file;
    this.#template = template;
  }

  /** Undefined while `received-log-file` is empty. A template that cannot be read stops the start-up. */
  static fromConfig(config: Partial<Pick<Config, 'received-log-file' | 'received-log-format'>>, logger: Logger): ReceivedLog | undefined {
    const path = config['received-log-file'];
    if (!path) return undefined;
    const template = compileLogFormat('received-log-format', config['received-log-format'] || '{$json}', RECEIVED_LOG_VARIABLES, logger);
    return new ReceivedLog(openLineFile(path, { logger }), template);
  }

  /** One line per document, `at` the time the message was accepted. */
  write(documents: readonly object[], at: Date = new Date()): void {
    const date = formatLogDate(at);
    const time = Math.floor(at.getTime() / 1000);
    for (const document of documents) {
      const { mime: _mime, ...json } = document as Record<string, unknown>;
      this.#file.write(this.#template.render({ json, report: json['report'] ?? '', date, time }));
    }
  }
}
