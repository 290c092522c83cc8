// The bound on what ingest has handed to the outbox and not yet seen settled (broker.maxPendingBytes):
// the outbox's pending queue lives in memory, so it must not grow with what devices send. Ingest adds
// each message when it appends it and subtracts it when the append settles; the broker asks `over`
// before letting a client's next read in, and waits for `whenBelow` (issue #7, item 4).
//
// Sizes are estimates of memory, not of disk: a pending message holds its payload and topic plus
// objects around them (the aedes packet, the outbox record, callbacks, its share of the socket chunk
// it was parsed from). MESSAGE_OVERHEAD_BYTES is that part, measured: 96,000 QoS 0 messages with
// 100-byte payloads held pending (200 clients, commits held) grew the heap by 987 bytes and buffers by
// 258 bytes a message after GC — 1,245 bytes, of which 125 are payload and topic.

export const MESSAGE_OVERHEAD_BYTES = 1100

/** What one message counts for while it is pending. */
export function pendingSize(msg: { topic: string; payload: Uint8Array; origin: string }): number {
  return msg.payload.length + msg.topic.length + msg.origin.length + MESSAGE_OVERHEAD_BYTES
}

export class PendingBytes {
  bytes = 0
  /** The most there has been. */
  peak = 0
  /**
   * Room promised to clients let go to read their next chunk, until its first publish arrives: the
   * read happens a moment after the decision, and others must not take that room meanwhile.
   */
  reserved = 0
  private readonly waiters: Array<() => void> = []
  private waking = false

  constructor(readonly max: number) {}

  get over(): boolean {
    return this.bytes >= this.max
  }

  add(n: number): void {
    this.bytes += n
    if (this.bytes > this.peak) this.peak = this.bytes
  }

  sub(n: number): void {
    this.bytes -= n
    if (this.waiters.length > 0 && this.bytes < this.max && !this.waking) {
      // Not from inside the outbox's callback: a woken client is read at once and appends again.
      this.waking = true
      queueMicrotask(this.wake)
    }
  }

  /** Calls `fn` once the pending bytes are below the bound (at once if they are). */
  whenBelow(fn: () => void): void {
    if (!this.over) fn()
    else this.waiters.push(fn)
  }

  /**
   * Waiters go one at a time, first come first served, while there is room (reserved room counts as
   * taken): a woken client reads its next socket chunk, so the bound is overshot by about one read,
   * not by one read per waiting client. With nothing pending at all, one goes whatever is reserved.
   */
  private readonly wake = (): void => {
    this.waking = false
    let first = true
    while (
      this.waiters.length > 0 &&
      (this.bytes + this.reserved < this.max || (first && this.bytes === 0))
    ) {
      first = false
      ;(this.waiters.shift() as () => void)()
    }
  }
}
