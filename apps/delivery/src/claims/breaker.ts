/**
 * A circuit breaker for a dependency that may hang rather than fail (a frozen Redis answers nothing
 * and every call would wait out its timeout). After a failure it stays open for `openMs`: callers are
 * told "not available" at once. Then one probe call is let through; success closes it again.
 */
export class Breaker {
  readonly #openMs: number;
  #openUntil = 0;
  #probing = false;
  #onChange: (open: boolean) => void;

  constructor(openMs: number, onChange: (open: boolean) => void = () => undefined) {
    this.#openMs = openMs;
    this.#onChange = onChange;
  }

  get open(): boolean {
    return this.#openUntil > 0;
  }

  /** Whether a call may go to the dependency now (at most one probe while half-open). */
  allow(): boolean {
    if (this.#openUntil === 0) return true;
    if (Date.now() < this.#openUntil || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#probing = false;
    if (this.#openUntil === 0) return;
    this.#openUntil = 0;
    this.#onChange(false);
  }

  failure(): void {
    this.#probing = false;
    const wasOpen = this.#openUntil > 0;
    this.#openUntil = Date.now() + this.#openMs;
    if (!wasOpen) this.#onChange(true);
  }
}
