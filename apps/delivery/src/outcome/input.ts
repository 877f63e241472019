/**
 * `validate-recipient` / `validate-envelope` (reference §2, §4): how strictly the addresses of JSON
 * input are checked before anything is routed. An address that fails is unusable input, not a
 * delivery failure: `process/invalid`, final, never bounced.
 */

import type { Config } from '@mtaq/config';
import { isValidMailbox, type OutgoingMessage } from '@mtaq/envelope';

/** Why the message's addresses cannot be used, or undefined when they can. */
export function unusableAddress(message: OutgoingMessage, config: Pick<Config, 'validate-recipient' | 'validate-envelope'>): string | undefined {
  const recipient = config['validate-recipient'];
  if (!isValidMailbox(message.recipient, recipient)) return `recipient "${message.recipient}" is not a valid address (validate-recipient: ${recipient})`;
  const envelope = message.envelope ?? '';
  // the null sender <> is a valid envelope: it is what bounces carry
  const mode = config['validate-envelope'];
  if (envelope !== '' && !isValidMailbox(envelope, mode)) return `envelope "${envelope}" is not a valid address (validate-envelope: ${mode})`;
  return undefined;
}
