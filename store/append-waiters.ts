// Readers waiting for the log to grow past a sequence number (a forwarder that has caught up).

interface Waiter {
  after: number
  resolve(): void
}

export class AppendWaiters {
  private readonly waiters = new Set<Waiter>()

  /** Resolves once `lastSeq()` > `after` is announced, or rejects when `signal` aborts. */
  wait(after: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        after,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        this.waiters.delete(waiter)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.add(waiter)
    })
  }

  /** The log's last sequence number is now `lastSeq`. */
  appended(lastSeq: number): void {
    for (const w of this.waiters) {
      if (lastSeq > w.after) {
        this.waiters.delete(w)
        w.resolve()
      }
    }
  }

  /** Resolves every waiter (the outbox is closing). */
  releaseAll(): void {
    for (const w of this.waiters) w.resolve()
    this.waiters.clear()
  }
}
