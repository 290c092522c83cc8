// Retry delay: exponential with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"),
// so devices that went away together do not come back in lockstep.
export interface BackoffConfig {
  minMs: number
  maxMs: number
}

export function backoffDelay(attempt: number, config: BackoffConfig, random: () => number): number {
  const ceiling = Math.min(config.maxMs, config.minMs * 2 ** Math.min(attempt, 30))
  return Math.max(config.minMs, Math.floor(random() * ceiling))
}
