import { randomFillSync } from 'node:crypto';

/** Ids drawn from one fill of the pool: a getrandom call per 409 sessions instead of one each. */
const POOL = Buffer.alloc(4096);
const ID_BYTES = 10;
let at = POOL.length;

const DIGITS = '0123456789abcdefghijklmnopqrstuv';

/**
 * A session id in smtp-server's own form: 80 random bits as 16 base-32 digits (0-9a-v). It names
 * the session in logs and Received fields, so it only has to be unique and unguessable; smtp-server
 * makes one per connection with `randomBytes(10)` and a BigInt, about 20 µs of each new
 * connection's CPU in the ingress profile (150 sessions, one message each). Here the bytes come
 * from a pool refilled by the same CSPRNG, and the digits are read off 5 bits at a time.
 */
export function sessionId(): string {
  if (at + ID_BYTES > POOL.length) {
    randomFillSync(POOL);
    at = 0;
  }
  let id = '';
  // 80 bits in two 40-bit halves: each is exact in a double, and 8 digits of 5 bits
  for (let half = 0; half < 2; half++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) bits = bits * 256 + POOL[at++]!;
    let digits = '';
    for (let d = 0; d < 8; d++) {
      digits = DIGITS[bits % 32]! + digits;
      bits = Math.floor(bits / 32);
    }
    id += digits;
  }
  return id;
}
