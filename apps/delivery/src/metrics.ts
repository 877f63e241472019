/**
 * What delivery reports to `/metrics` (@mtaq/www's Metrics implements it). Optional: without it
 * nothing is counted.
 */
export interface DeliveryMetrics {
  /** One delivery attempt concluded (its result state and result); `retry` when it will be tried again. */
  attempt(state: string, result: string, retry: boolean): void;
  /** Delivery finished with one outbox message after `seconds` (consumed to concluded). */
  handled(seconds: number): void;
}
