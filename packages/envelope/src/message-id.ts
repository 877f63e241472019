/**
 * Per-recipient message ids (§3: at least 8 characters of `[a-z0-9]`, unique across instances).
 *
 * Layout, all base 36, read left to right:
 *
 *   <n><server-id: n chars><process start: 9 chars><pid: 5 chars><counter: 1+ chars>
 *
 *   - `n` is one digit giving the length of the server-id field, so the fields cannot run into each
 *     other and two server ids can never produce the same string.
 *   - process start is Date.now() at the first generator, zero-padded to 9 digits (enough until the
 *     year 5000): a restarted instance starts a fresh id space even though its counter restarts at 0.
 *   - pid keeps apart processes of one instance that start in the same millisecond (the workers
 *     of `smtp-threads` share a server-id and are forked together).
 *   - counter is shared by every generator in the process and is the only variable-length field,
 *     which is safe because it is last.
 *
 * Example: server-id 1, pid 4242 → `11` + `0mhx2a3k0` + `0038i` + `0`, `1`, …: 17+ characters, one
 * string concatenation per id. Different hosts must have different server-ids.
 */

let processStart: number | undefined;
let counter = 0;

export function createMessageIdGenerator(serverId: number): () => string {
  if (!Number.isSafeInteger(serverId) || serverId < 0) {
    throw new RangeError(`server-id must be a non-negative integer, got ${serverId}`);
  }
  processStart ??= Date.now();
  const server = serverId.toString(36);
  const pid = (process.pid % 36 ** 5).toString(36).padStart(5, '0');
  const prefix = server.length.toString(36) + server + processStart.toString(36).padStart(9, '0') + pid;
  return () => prefix + (counter++).toString(36);
}
