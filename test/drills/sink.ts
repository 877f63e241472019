/**
 * The drill's SMTP sink: a small SMTP server written against the socket, so it can tell exactly
 * what happened to each transaction around the final dot.
 *
 * - Every complete message (final `.` received) is an arrival, counted per token (the
 *   `X-Drill-Id` header). A message whose connection broke before the dot is no arrival.
 * - The reply to the dot waits `dataDelayMs` (a slow upstream keeps many transactions open), and
 *   while the sink is held (hold/release) until it is released.
 * - "Dot sent, reply not read": the sink got the whole message, but before the client sent anything
 *   else the connection ended before the 250 was written, or was reset (ECONNRESET/EPIPE) once it
 *   was — a process that dies with unread data in its socket makes the kernel send RST. Those are
 *   the duplicates a kill -9 of delivery legitimately causes: the sender cannot know the message
 *   arrived.
 * - "250 read, then gone" (`hangupAfterReply`): a clean close (FIN, so nothing was left unread)
 *   within a second of the 250, with no QUIT or other command in between: the client most likely
 *   read the reply and died before it could record it — a duplicate no sender can rule out either.
 *   A pooled connection that sat idle for longer after its last reply is not counted.
 * - RCPT TO addresses matching `reject` are refused with `550 5.1.1` (a permanent failure).
 */

import net from 'node:net';

export interface DrillSinkOptions {
  /** Milliseconds to wait before answering the final dot. */
  dataDelayMs?: number;
  /** Recipients refused at RCPT TO with 550. */
  reject?: RegExp;
  host?: string;
}

export interface TokenRecord {
  arrivals: number;
  /** Of those arrivals, how many were "dot sent, reply not read". */
  unread: number;
  /** Of those arrivals, how many were "250 read, then gone" (see hangupAfterReply). */
  hangups: number;
  /**
   * Arrivals whose 250 the sender read and answered with its next command, after which the
   * connection ended without QUIT within a second of that 250: the sender died right after the
   * reply (kill -9 before it could record the outcome; a reused connection). Counted apart from
   * `hangups`, and not in any total of the sink.
   */
  diedAfter: number;
  rejects: number;
  /** The client's address of each arrival, in order (the source IP delivery bound). */
  sources: string[];
}

const TOKEN_HEADER = /^X-Drill-Id:[ \t]*(\S+)/im;
/** Drill addresses carry their token: `r-TOKEN@…` (delivered), `bounce-TOKEN@…` (refused), `s-TOKEN@…` (sender). */
const ADDRESS_TOKEN = /^(?:r|bounce|s)-([A-Za-z0-9-]+)@/i;

export function tokenOfAddress(address: string): string | undefined {
  return ADDRESS_TOKEN.exec(address.trim())?.[1];
}

export class DrillSink {
  readonly tokens = new Map<string, TokenRecord>();
  /** Complete messages received (every arrival, duplicates included). */
  arrivals = 0;
  /** Dot received, connection gone before or while the 250 went out. */
  dotNoReply = 0;
  /** 250 written, then within a second a clean close without QUIT or any other command. */
  hangupAfterReply = 0;
  rejects = 0;
  connections = 0;
  concurrent = 0;
  maxConcurrent = 0;
  /** Arrivals without a recognisable token (should stay 0). */
  anonymous = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** Replies to final dots waiting for release() while the sink is held. */
  #held: Array<() => void> | undefined;
  readonly #options: DrillSinkOptions;
  port = 0;

  private constructor(options: DrillSinkOptions) {
    this.#options = options;
    this.#server = net.createServer((socket) => this.#session(socket));
  }

  static async start(options: DrillSinkOptions = {}): Promise<DrillSink> {
    const sink = new DrillSink(options);
    await new Promise<void>((resolve) => sink.#server.listen(0, options.host ?? '127.0.0.1', resolve));
    sink.port = (sink.#server.address() as net.AddressInfo).port;
    return sink;
  }

  /** Distinct tokens that arrived at least once. */
  get delivered(): number {
    let n = 0;
    for (const record of this.tokens.values()) if (record.arrivals > 0) n++;
    return n;
  }

  /** Distinct tokens seen at all (arrived or refused): how far a row has got. */
  get progress(): number {
    return this.tokens.size;
  }

  /** Arrivals beyond the first per token. */
  get duplicates(): number {
    let n = 0;
    for (const record of this.tokens.values()) if (record.arrivals > 1) n += record.arrivals - 1;
    return n;
  }

  /**
   * Holds every reply to a final dot (on top of `dataDelayMs`) until release(): a drill holds the
   * sink while a disruption takes effect, so it lands with transactions in flight however long the
   * tool that causes it (rabbitmqctl) takes, and however few messages the row has.
   */
  hold(): void {
    this.#held ??= [];
  }

  /** Sends the held replies (to clients still there) and stops holding. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const reply of held) reply();
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #record(token: string): TokenRecord {
    let record = this.tokens.get(token);
    if (!record) {
      record = { arrivals: 0, unread: 0, hangups: 0, diedAfter: 0, rejects: 0, sources: [] };
      this.tokens.set(token, record);
    }
    return record;
  }

  #session(socket: net.Socket): void {
    this.#sockets.add(socket);
    this.connections++;
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    socket.setNoDelay(true);
    // the address delivery bound (IPv4-mapped IPv6 written as IPv4)
    const source = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    let buffer: Buffer = Buffer.alloc(0);
    let inData = false;
    let busy = false; // a reply to the dot is pending: the client must wait for it
    let gone = false;
    /** The last dot's transaction, until the client sends anything else. */
    let pending: { record: TokenRecord | undefined; replied: boolean; repliedAt: number; counted: boolean } | undefined;
    let recipients: string[] = [];
    /** The last transaction whose 250 the client went on from, until QUIT or the next dot. */
    let answered: { record: TokenRecord | undefined; repliedAt: number } | undefined;
    const diedAfter = (): void => {
      if (answered && Date.now() - answered.repliedAt <= 1000 && answered.record) answered.record.diedAfter++;
      answered = undefined;
    };

    const countUnread = (): void => {
      if (!pending || pending.counted) return;
      pending.counted = true;
      this.dotNoReply++;
      if (pending.record) pending.record.unread++;
    };
    const write = (line: string): void => {
      if (!gone) socket.write(`${line}\r\n`);
    };
    const finish = (): void => {
      if (gone) return;
      gone = true;
      this.concurrent--;
      this.#sockets.delete(socket);
    };
    socket.on('error', () => {
      diedAfter();
      // a reset after the dot: the reply was not (or could not be) read
      if (pending) countUnread();
      finish();
    });
    socket.on('end', () => {
      diedAfter();
      if (pending && !pending.counted) {
        if (!pending.replied) countUnread();
        else if (Date.now() - pending.repliedAt <= 1000) {
          this.hangupAfterReply++;
          if (pending.record) pending.record.hangups++;
        }
        pending.counted = true;
      }
      socket.end();
      finish();
    });
    socket.on('close', () => {
      diedAfter();
      if (pending && !pending.replied) countUnread();
      finish();
    });

    const command = (line: string): void => {
      const verb = line.slice(0, 4).toUpperCase();
      switch (verb) {
        case 'EHLO':
          write('250-sink.drill.test');
          write('250-8BITMIME');
          write('250-SMTPUTF8');
          write('250 SIZE 104857600');
          return;
        case 'HELO':
          write('250 sink.drill.test');
          return;
        case 'MAIL':
          recipients = [];
          write('250 2.1.0 Ok');
          return;
        case 'RCPT': {
          const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
          if (this.#options.reject?.test(address)) {
            this.rejects++;
            const token = tokenOfAddress(address);
            if (token) this.#record(token).rejects++;
            write('550 5.1.1 drill: recipient refused');
            return;
          }
          recipients.push(address);
          write('250 2.1.5 Ok');
          return;
        }
        case 'DATA':
          if (recipients.length === 0) {
            write('554 5.5.1 no valid recipients');
            return;
          }
          inData = true;
          write('354 End data with <CR><LF>.<CR><LF>');
          return;
        case 'RSET':
          recipients = [];
          write('250 2.0.0 Ok');
          return;
        case 'NOOP':
          write('250 2.0.0 Ok');
          return;
        case 'QUIT':
          answered = undefined;
          write('221 2.0.0 Bye');
          socket.end();
          return;
        default:
          write('502 5.5.2 command not implemented');
      }
    };

    const dot = (message: Buffer): void => {
      const head = message.subarray(0, Math.min(message.length, 8192)).toString('latin1');
      const token = TOKEN_HEADER.exec(head.split(/\r\n\r\n/)[0] ?? '')?.[1];
      this.arrivals++;
      answered = undefined;
      const record = token ? this.#record(token) : undefined;
      if (record) {
        record.arrivals++;
        record.sources.push(source);
      } else this.anonymous++;
      pending = { record, replied: false, repliedAt: 0, counted: false };
      const transaction = pending;
      recipients = [];
      busy = true;
      const reply = (): void => {
        busy = false;
        if (gone || socket.destroyed || !socket.writable) {
          countUnread();
          return;
        }
        transaction.replied = true;
        transaction.repliedAt = Date.now();
        socket.write('250 2.0.0 Ok: queued\r\n', (err) => {
          if (err && pending === transaction) countUnread();
        });
        pump();
      };
      const answer = (): void => {
        if (this.#held) this.#held.push(reply);
        else reply();
      };
      const delay = this.#options.dataDelayMs ?? 0;
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    };

    const pump = (): void => {
      while (!busy && !gone) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          // a message may be empty: the dot right after the 354
          const atStart = buffer.subarray(0, 3).toString('latin1') === '.\r\n';
          if (end < 0 && !atStart) return;
          const message = atStart ? Buffer.alloc(0) : buffer.subarray(0, end + 2);
          buffer = buffer.subarray(atStart ? 3 : end + 5);
          inData = false;
          dot(message);
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.subarray(0, nl).toString('latin1');
        buffer = buffer.subarray(nl + 2);
        // anything the client sends after the reply means it read it
        if (pending?.replied) answered = { record: pending.record, repliedAt: pending.repliedAt };
        pending = undefined;
        command(line);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      pump();
    });
    write('220 sink.drill.test ESMTP drill sink');
  }
}
