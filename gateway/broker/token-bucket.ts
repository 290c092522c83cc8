// A token bucket that may go into debt: a client's publishes are taken in whole (they were already read
// from its socket), and the debt says how long to stop reading from it. Refills at `ratePerSec` up to
// `capacity` (the burst). Times are milliseconds from one monotonic clock.

export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly ratePerSec: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity
    this.last = now
  }

  /** Takes `n` tokens; returns the ms until the bucket is out of debt again (0: not in debt). */
  take(n: number, now: number): number {
    this.refill(now)
    this.tokens -= n
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSec
  }

  /** Whether the bucket had refilled to at least half its capacity (a client that paused). */
  rested(now: number): boolean {
    this.refill(now)
    return this.tokens >= this.capacity / 2
  }

  private refill(now: number): void {
    const t = this.tokens + ((now - this.last) * this.ratePerSec) / 1000
    this.tokens = Math.min(t, this.capacity)
    this.last = now
  }
}
