// Messages in flight to an upstream, in send order. Acks arrive in any order; the cursor may only move
// over the contiguous acknowledged prefix, so a crash never skips a message that was not acknowledged.

export class AckWindow {
  private seqs: number[] = []
  private done: boolean[] = []
  private head = 0
  private base = 0 // slot number of seqs[0]

  /** @param acked sequence number everything up to which is acknowledged */
  constructor(public acked: number) {}

  /** Messages sent and not yet acknowledged. */
  get size(): number {
    return this.seqs.length - this.head
  }

  /** Messages ever pushed. */
  get pushed(): number {
    return this.base + this.seqs.length
  }

  /** Messages retired: acknowledged along with everything before them. */
  get retired(): number {
    return this.base + this.head
  }

  /** Sequence number of the oldest message not acknowledged yet, if any. */
  oldest(): number | undefined {
    return this.head < this.seqs.length ? this.seqs[this.head] : undefined
  }

  /** Adds a message; returns its slot, for ack(). */
  push(seq: number): number {
    this.seqs.push(seq)
    this.done.push(false)
    return this.base + this.seqs.length - 1
  }

  /** Marks a slot acknowledged; returns the new acked position if the prefix moved, else undefined. */
  ack(slot: number): number | undefined {
    const i = slot - this.base
    if (i < this.head || i >= this.seqs.length) return undefined
    this.done[i] = true
    let moved = false
    while (this.head < this.seqs.length && this.done[this.head]) {
      this.acked = this.seqs[this.head] as number
      this.head++
      moved = true
    }
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head)
      this.done = this.done.slice(this.head)
      this.base += this.head
      this.head = 0
    }
    return moved ? this.acked : undefined
  }
}
