/**
 * Typed errors shared by every mtaq process. Each one that can reach an SMTP client carries the reply
 * code and RFC 3463 enhanced status it maps to, so the ingress never has to guess.
 */

export class MtaqError extends Error {
  /** SMTP reply code this error maps to when it reaches a client. */
  readonly responseCode: number;
  /** RFC 3463 enhanced status code, e.g. `4.3.0`. */
  readonly status: string;

  constructor(message: string, responseCode: number, status: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.responseCode = responseCode;
    this.status = status;
  }

  /** The reply text as sent to a client: `<status> <message>`. */
  get reply(): string {
    return `${this.status} ${this.message}`;
  }
}

/** A reply we deliberately send to an SMTP client (policy, syntax, size). */
export class SmtpReplyError extends MtaqError {}

/** The broker did not confirm a publish: down, too slow, nacked or returned the message. */
export class PublishError extends MtaqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 451, '4.3.0', options);
  }
}

/** The broker returned a mandatory publish: no queue is bound under that routing key. */
export class UnroutableError extends PublishError {
  /** The routing key (queue name) that reached no queue. */
  readonly queue: string;

  constructor(queue: string, message: string) {
    super(message);
    this.queue = queue;
  }
}

/** A JSON document on a queue does not match the envelope schema. */
export class EnvelopeError extends MtaqError {
  /** JSON pointer-ish path of the offending property, e.g. `dsn.notify`. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message, 554, '5.6.0');
    this.path = path;
  }
}
