import type { ChannelModel } from 'amqplib';
import type { Logger } from '@mtaq/log';
import type { RuleSet } from '@mtaq/rules';

/**
 * Moves the messages waiting in a park queue back to the outbox at once (C50: a pause was lifted),
 * each published with a broker confirm before it is acked, so none is lost or left behind. Only
 * the messages there when it starts are moved: one still paused is parked again by delivery and
 * must not be moved round in a loop. Resolves with the number moved; a missing queue moves none.
 */
export async function releaseParked(connection: ChannelModel, queue: string, exchange: string, outbox: string): Promise<number> {
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  let moved = 0;
  try {
    const { messageCount } = await channel.checkQueue(queue);
    for (let i = 0; i < messageCount; i++) {
      const m = await channel.get(queue, { noAck: false });
      if (m === false) break;
      const p = m.properties;
      channel.publish(exchange, outbox, m.content, {
        persistent: p.deliveryMode === 2,
        ...(p.contentType ? { contentType: p.contentType as string } : {}),
        ...(p.contentEncoding ? { contentEncoding: p.contentEncoding as string } : {}),
        ...(typeof p.priority === 'number' ? { priority: p.priority } : {}),
        ...(p.headers ? { headers: p.headers } : {}),
      });
      await channel.waitForConfirms();
      channel.ack(m);
      moved++;
    }
  } catch {
    // no such queue (nothing was ever parked), or the broker went away: the queue's TTL releases the rest
  } finally {
    await channel.close().catch(() => undefined);
  }
  return moved;
}

/**
 * Calls `release` when a reload no longer has a pause the previous one had. Returns the listener
 * for RuleCache.onChange.
 */
export function onPauseLifted(release: () => Promise<number>, logger: Logger): (rules: RuleSet) => void {
  let known: Set<number> | undefined;
  let running: Promise<unknown> = Promise.resolve();
  return (rules) => {
    const ids = new Set(rules.pauses.map((p) => p.id));
    const lifted = known !== undefined && [...known].some((id) => !ids.has(id));
    known = ids;
    if (!lifted) return;
    running = running.then(() =>
      release().then(
        (moved) => logger.info({ moved }, 'pause lifted: parked messages released to the outbox'),
        (err: Error) => logger.warn({ err: err.message }, 'pause lifted, but the parked messages could not be released now; they come back within their park time'),
      ),
    );
  };
}
