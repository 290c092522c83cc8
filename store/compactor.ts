// LevelDB does not give the space of deleted records back by itself: once enough log bytes were
// deleted (compactAfterBytes) and not too soon after the last time (compactMinIntervalMs), the range
// below the lowest segment still kept is compacted.
import { RECORDS_START } from './keys.js'
import type { OutboxDb } from './outbox-db.js'
import { segmentKey } from './segment.js'

export interface CompactorOptions {
  db: OutboxDb
  afterBytes: number
  minIntervalMs: number
  now: () => number
  /** First sequence number of the lowest segment still on disk. */
  firstSegment: () => number
  warn(obj: object, msg: string): void
}

export class Compactor {
  private running: Promise<void> | undefined
  private deletedSince = 0
  private last = 0
  private off = false

  constructor(private readonly opts: CompactorOptions) {}

  /** Log bytes were deleted: compacts when that adds up (in the background). */
  deleted(bytes: number): void {
    this.deletedSince += bytes
    const now = this.opts.now()
    if (
      this.deletedSince >= this.opts.afterBytes &&
      now - this.last >= this.opts.minIntervalMs &&
      !this.off
    ) {
      void this.compact()
    }
  }

  /** Compacts the deleted range now (a compaction in progress is joined, not repeated). */
  compact(): Promise<void> {
    if (this.running) return this.running
    const end = segmentKey(this.opts.firstSegment(), 0)
    this.last = this.opts.now()
    this.deletedSince = 0
    this.running = this.opts.db
      .read((db) => db.compactRange(RECORDS_START, end))
      .catch((err: unknown) => this.opts.warn({ err }, 'outbox compaction failed'))
      .finally(() => {
        this.running = undefined
      })
    return this.running
  }

  /** No more automatic compactions; resolves when the one in progress (if any) is done. */
  async stop(): Promise<void> {
    this.off = true
    await this.running
  }
}
