// A token bucket capping messages per second (upstreams[].maxRatePerSec), so a long backlog drains at a
// pace a metered link can afford. Bursts are limited to a tenth of a second's worth (at least one).
import { sleep } from './backoff.js'

export class RateLimiter {
  private tokens: number
  private last: number
  private readonly burst: number

  constructor(
    private readonly perSec: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = Math.max(1, perSec / 10)
    this.tokens = this.burst
    this.last = now()
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const t = this.now()
      this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.perSec) / 1000)
      this.last = t
      if (this.tokens >= 1) {
        this.tokens -= 1
        return
      }
      await sleep(((1 - this.tokens) * 1000) / this.perSec, signal)
    }
  }
}
