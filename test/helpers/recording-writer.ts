// A BatchWriter (the outbox's `writeBatch` option) that writes to the real LevelDB and records every
// batch: its `sync` option, when it started and finished, and the outbox's lastSeq when it was handed
// over. Optionally it holds writes (all of them, or those `hold` picks) to widen the windows a test
// wants to look into. Events are ordered by a counter (`tick()`), not by clock readings.
import type { BatchWriter, Outbox, OutboxBatch } from '../../store/outbox.js'
import { range, sleep } from './outbox.js'

export interface RecordedWrite {
  /** Position in the order of writes (0-based). */
  index: number
  sync: boolean
  /** Operations in the batch. */
  ops: number
  /** The outbox's lastSeq when the batch was handed to the writer (before it is adopted). */
  lastSeqBefore: number
  startTick: number
  startedAt: number
  /** Set once LevelDB has written the batch. */
  doneTick: number | undefined
  doneAt: number | undefined
  failed: boolean
}

export interface RecordingWriterOptions {
  /** Hold every write this long before writing it. */
  holdMs?: number
  /** Hold a write until the returned promise settles (called with the write as recorded). */
  hold?: (write: RecordedWrite) => Promise<void> | undefined
}

export class RecordingWriter {
  readonly writes: RecordedWrite[] = []
  private ticks = 0
  private outbox: Outbox | undefined

  constructor(private readonly options: RecordingWriterOptions = {}) {}

  /** The outbox whose lastSeq tells which records a batch holds (set right after Outbox.open). */
  attach(outbox: Outbox): void {
    this.outbox = outbox
  }

  /** The next event number: call it when something the test watches happens (an ack, a PUBACK). */
  tick(): number {
    return ++this.ticks
  }

  readonly writeBatch: BatchWriter = async (batch: OutboxBatch, options: { sync: boolean }) => {
    const write: RecordedWrite = {
      index: this.writes.length,
      sync: options.sync,
      ops: batch.length,
      lastSeqBefore: this.outbox?.lastSeq ?? 0,
      startTick: this.tick(),
      startedAt: performance.now(),
      doneTick: undefined,
      doneAt: undefined,
      failed: false,
    }
    this.writes.push(write)
    if (this.options.holdMs) await sleep(this.options.holdMs)
    await this.options.hold?.(write)
    try {
      await batch.write(options)
    } catch (err) {
      write.failed = true
      throw err
    }
    write.doneTick = this.tick()
    write.doneAt = performance.now()
  }

  /**
   * Sequence numbers of the records in a written batch. The outbox adopts a batch before it builds the
   * next one, so batch i holds (lastSeqBefore of i, lastSeqBefore of the next write]; the last write's
   * range ends at the outbox's lastSeq now.
   */
  seqsOf(write: RecordedWrite): number[] {
    if (write.failed) return []
    const next = this.writes.slice(write.index + 1).find((w) => !w.failed)
    const end = next ? next.lastSeqBefore : (this.outbox?.lastSeq ?? write.lastSeqBefore)
    return range(write.lastSeqBefore + 1, end)
  }

  /** The write whose batch held record `seq`. */
  writeHolding(seq: number): RecordedWrite | undefined {
    return this.writes.find((w) => {
      const seqs = this.seqsOf(w)
      return seqs.length > 0 && seq >= (seqs[0] as number) && seq <= (seqs.at(-1) as number)
    })
  }

  summary(write: RecordedWrite): string {
    const seqs = this.seqsOf(write)
    const held = seqs.length === 0 ? 'no records' : `records ${seqs[0]}..${seqs.at(-1)}`
    return `write #${write.index} (sync ${write.sync}, ${write.ops} ops, ${held})`
  }
}
