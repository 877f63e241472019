/**
 * Sockets this process holds, by direction, for `smtp-connections` (reference §7.8: inbound and
 * outbound together, per process). The ingress counts the sessions it greeted, delivery the upstream
 * connections its gate granted; each checks the sum before adding one of its own.
 */
export const processConnections = {
  /** Sessions admitted (greeted, or about to be). */
  inbound: 0,
  outbound: 0,
  /** Every inbound socket open, admitted or still held waiting for a slot: what descriptors are spent on. */
  accepted: 0,
};

/** Whether one more socket would pass `total` (0 = no total cap). */
export function overTotal(total: number): boolean {
  return total > 0 && processConnections.inbound + processConnections.outbound >= total;
}
