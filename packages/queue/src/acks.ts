import type { Channel, Message } from 'amqplib';

/**
 * The acks of one consumer channel, sent once per event-loop turn. The deliveries a turn settles
 * that, with everything delivered before them, form an unbroken run go out as ONE `basic.ack`
 * with `multiple` set; a settled delivery behind one still being worked on is acked on its own in
 * the same turn, so nothing waits on a slow neighbour (and its prefetch slot frees as before).
 * RabbitMQ handles one multiple-ack for a run in much less time than an ack per message, and it
 * shares the machine's cores with us.
 *
 * A nack or reject always goes out at once. `flush()` sends what is waiting; call it before
 * closing the channel, or the acks waiting for the turn are lost with it and the broker
 * redelivers those messages.
 */
export class Acks {
  readonly #channel: Channel;
  /**
   * Tags delivered and not settled on the broker, ascending (delivery order; a Set keeps insertion
   * order). The broker delivers no more than the prefetch beyond these, so this stays that small.
   */
  readonly #unsettled = new Set<number>();
  /** Deliveries acked locally whose ack has not gone out, by tag. */
  readonly #acked = new Map<number, Message>();
  readonly #onError: (err: Error) => void;
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** `onError`: waiting acks could not be sent (the channel closed; the broker redelivers them). */
  constructor(channel: Channel, onError: (err: Error) => void) {
    this.#channel = channel;
    this.#onError = onError;
  }

  /** Deliveries received and not settled on the broker (at most the prefetch, plus this turn's acks). */
  get unsettled(): number {
    return this.#unsettled.size;
  }

  /** Every delivery of the channel passes here first, in the order the broker sent them. */
  received(message: Message): void {
    this.#unsettled.add(message.fields.deliveryTag);
  }

  /** Acks `message` at the end of this event-loop turn. */
  ack(message: Message): void {
    this.#acked.set(message.fields.deliveryTag, message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Nacks (requeue) or rejects (drop) `message` now. Throws as amqplib does on a closed channel. */
  nack(message: Message, requeue: boolean): void {
    this.#channel.nack(message, false, requeue);
    this.#unsettled.delete(message.fields.deliveryTag);
  }

  /** Sends every ack that is waiting; a channel that is closed goes to `onError`, not thrown. */
  flush(): void {
    if (this.#acked.size === 0) return;
    try {
      this.#send();
    } catch (err) {
      this.#acked.clear(); // the channel is gone: the broker redelivers them, nothing is left to send
      this.#onError(err as Error);
    }
  }

  #send(): void {
    // the oldest unsettled deliveries, as long as each was acked: with `multiple`, the ack of the
    // last of them settles exactly these on the broker (every older tag is settled already)
    let last: Message | undefined;
    let run = 0;
    for (const tag of this.#unsettled) {
      const acked = this.#acked.get(tag);
      if (acked === undefined) break;
      this.#acked.delete(tag);
      this.#unsettled.delete(tag);
      last = acked;
      run++;
    }
    if (last) this.#channel.ack(last, run > 1);
    // behind a delivery still being worked on: each on its own, now
    for (const [tag, message] of this.#acked) {
      this.#channel.ack(message);
      this.#unsettled.delete(tag);
    }
    this.#acked.clear();
  }
}
