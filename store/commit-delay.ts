// Commit delay (fsync mode, `commitDelayMs`): group commit with a bounded wait, as databases do. With
// sparse loads (50 sensors × 1 reading/s) every reading would otherwise get an fsync of its own — a
// partial page rewritten, plus the file system's journal, on an SD card for every reading. Appends wait
// up to commitDelayMs for others to share their fsync; the PUBACK still goes out only after it, so
// nothing acknowledged can be lost, and latency grows by at most the delay. A batch that is full enough
// goes at once, and so does everything when the outbox flushes or closes.

export class CommitDelay {
  /** When the oldest append still waiting arrived (performance.now()), and how many records wait. */
  private since = 0
  private records = 0
  private wake: (() => void) | undefined
  private hurried = 0

  /**
   * @param delayMs the longest an append waits for company (0: none)
   * @param fullRecords a batch of this many records goes at once
   */
  constructor(
    private readonly delayMs: number,
    private readonly fullRecords: number,
  ) {}

  get enabled(): boolean {
    return this.delayMs > 0
  }

  /** Records were added to the pending appends (`wasEmpty`: none were waiting before). */
  added(records: number, wasEmpty: boolean): void {
    if (this.delayMs === 0) return
    if (wasEmpty) {
      this.since = performance.now()
      this.records = 0
    }
    this.records += records
    if (this.records >= this.fullRecords) this.go()
  }

  /** The appends still pending make a full batch already: no waiting for them. */
  full(): void {
    this.records = this.fullRecords
    this.go()
  }

  /** The pending appends were taken (written or refused). */
  taken(): void {
    this.records = 0
  }

  /** How long the pending appends should still wait (0: write them now). */
  holdMs(): number {
    if (this.delayMs === 0 || this.hurried > 0 || this.records === 0 || this.records >= this.fullRecords)
      return 0
    return Math.max(0, this.since + this.delayMs - performance.now())
  }

  /** Waits `ms` or until woken (a full batch, a flush). */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      const self = this
      function done() {
        clearTimeout(t)
        if (self.wake === done) self.wake = undefined
        resolve()
      }
      this.wake = done
    })
  }

  /** No waiting while `during` runs (a flush), or from now on (`during` omitted: closing). */
  async hurry<T>(during?: () => Promise<T>): Promise<T | undefined> {
    this.hurried++
    this.go()
    if (!during) return undefined
    try {
      return await during()
    } finally {
      this.hurried--
    }
  }

  private go(): void {
    this.wake?.()
  }
}
