import type { Channel, Message } from 'amqplib';

/**
 * The acks of one consumer channel, sent once per event-loop turn. The deliveries a turn settles
 * that, with everything delivered before them, form an unbroken run go out as ONE `basic.ack`
 * with `multiple` set; a settled delivery behind one still being worked on is acked on its own in
 * the same turn, so nothing waits on a slow neighbour (and its prefetch slot frees as before).
 * RabbitMQ handles one multiple-ack for a run in much less time than an ack per message, and it
 * shares the machine's cores with us.
 *
 * A nack or reject always goes out at once: it is settled on the broker when a later multiple-ack
 * covers its tag, which the broker then ignores. `flush()` sends what is waiting; call it before
 * closing the channel, or the acks waiting for the turn are lost with it and the broker
 * redelivers those messages.
 */
export class Acks {
  readonly #channel: Channel;
  /** Delivery tags received and not yet settled through this object, in delivery order. */
  readonly #open: number[] = [];
  #head = 0;
  /** Deliveries acked locally whose ack has not gone out, by tag. */
  readonly #acked = new Map<number, Message>();
  /** Tags settled on the broker already (nacked, or acked alone) that are still in `#open`. */
  readonly #sent = new Set<number>();
  readonly #onError: (err: Error) => void;
  #scheduled = false;
  readonly #flush = (): void => {
    this.#scheduled = false;
    try {
      this.flush();
    } catch (err) {
      this.#onError(err as Error);
    }
  };

  /** `onError`: a turn's acks could not be sent (the channel closed; the broker redelivers them). */
  constructor(channel: Channel, onError: (err: Error) => void) {
    this.#channel = channel;
    this.#onError = onError;
  }

  /** Every delivery of the channel passes here first, in the order the broker sent them. */
  received(message: Message): void {
    this.#open.push(message.fields.deliveryTag);
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
    this.#sent.add(message.fields.deliveryTag);
  }

  /** Sends every ack that is waiting. Throws as amqplib does when the channel is closed. */
  flush(): void {
    if (this.#acked.size === 0) return;
    const open = this.#open;
    let last: Message | undefined;
    let acks = 0;
    while (this.#head < open.length) {
      const tag = open[this.#head] as number;
      const acked = this.#acked.get(tag);
      if (acked) {
        this.#acked.delete(tag);
        last = acked;
        acks++;
      } else if (!this.#sent.delete(tag)) break;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > open.length) {
      open.splice(0, this.#head);
      this.#head = 0;
    }
    // one ack for the run: with `multiple` it also covers the run's nacked tags, which the broker ignores
    if (last) this.#channel.ack(last, acks > 1);
    if (this.#acked.size === 0) return;
    // behind a delivery still being worked on: each on its own, now
    for (const [tag, message] of this.#acked) {
      this.#channel.ack(message);
      this.#sent.add(tag);
    }
    this.#acked.clear();
  }
}

