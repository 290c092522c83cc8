// Reconnect delays: exponential with full jitter, so a fleet of gateways that lost the same cloud
// broker does not come back in lockstep.

export interface BackoffOptions {
  minMs: number
  maxMs: number
  random?: () => number
}

/** Delay before retry number `attempt` (0-based): uniform in [minMs, min(maxMs, minMs·2^attempt)]. */
export function backoffDelay(
  attempt: number,
  { minMs, maxMs, random = Math.random }: BackoffOptions,
): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return minMs + random() * (cap - minMs)
}

/** Sleeps, or rejects with the signal's reason when it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
