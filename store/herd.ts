// Herding, a part of group commit. Devices that publish one message at a time answer each PUBACK with
// their next message. Writing the first of those at once splits them into two groups that alternate,
// each waiting for the other's fsync as well as its own (measured with 10 such devices: batches of 1
// and 9, PUBACK p50 0.87 ms). So after acknowledging the appends of an fsync'd batch, the writer waits
// a moment (HERD_WINDOW_MS at most) for as many new ones before it writes (then: 9.9 msgs/fsync, p50
// 0.57 ms). Large batches are left alone: their appenders come back over a longer time, and the disk
// should not sit idle meanwhile.

/** A herd is expected after an fsync'd batch of 2..HERD_MAX_APPENDERS appends. */
export const HERD_MAX_APPENDERS = 64
export const HERD_WINDOW_MS = 0.4

export class Herd {
  /** Appends still expected from the last acknowledged batch's appenders, and until when (ms). */
  private expected: { count: number; until: number } | undefined
  private wake: (() => void) | undefined
  private off = false

  /** Whether acknowledging a batch of `appends` (fsync'd or not) should start a herd. */
  static follows(appends: number, synced: boolean): boolean {
    return synced && appends >= 2 && appends <= HERD_MAX_APPENDERS
  }

  /** Expects `appenders` more appends within the window (called before they are told). */
  expect(appenders: number): void {
    if (this.off) return
    const now = performance.now()
    const left = this.expected !== undefined && now < this.expected.until ? this.expected.count : 0
    this.expected = { count: left + appenders, until: now + HERD_WINDOW_MS }
  }

  /** An append arrived. */
  arrived(): void {
    if (this.expected !== undefined && --this.expected.count <= 0) this.end()
  }

  /** True while a herd is expected and its window is open. */
  get pending(): boolean {
    if (this.expected === undefined) return false
    if (this.off || performance.now() >= this.expected.until) {
      this.expected = undefined
      return false
    }
    return true
  }

  /** No more herds (the outbox is closing). */
  stop(): void {
    this.off = true
  }

  /** Resolves when the herd is in or its window is over (polled once per event-loop turn). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve
      const poll = (): void => {
        if (this.wake !== resolve) return // woken by an append
        if (this.pending) setImmediate(poll)
        else this.end()
      }
      setImmediate(poll)
    })
  }

  private end(): void {
    this.expected = undefined
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
