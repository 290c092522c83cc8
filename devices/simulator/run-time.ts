// How long a simulation runs: a duration, an abort signal (Ctrl-C), or whichever comes first.

/** Resolves after durationMs or when the signal aborts, whichever is first (no duration: the signal). */
export function runTime(durationMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve()
      return
    }
    const timer = durationMs === undefined ? undefined : setTimeout(done, durationMs)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
