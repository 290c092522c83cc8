// One batch of the log, and the log's bounds. Each batch is one chained LevelDB batch and, in fsync mode
// (or when a sync is due), one fsync. Retention, expiry, the appends, evictions, cursor moves and the
// outbox state ride in the same batch, so every crash leaves a consistent prefix of them. The writer
// works on a copy of the state and adopts it only once the batch is written.
// Where the bottom of the log moves: log-bottom.ts; how records are packed: segment-packer.ts.
import type { CursorTable } from './cursor-table.js'
import type { DeadLetterState, DeadLetterTable } from './dead-letter-table.js'
import type { DiskGuard } from './disk-guard.js'
import { OutboxError } from './errors.js'
import type { PendingAppend, Written } from './group-commit.js'
import { settle } from './group-commit.js'
import { Herd } from './herd.js'
import { cursorKey, encodeSeq, STATE_KEY } from './keys.js'
import { type AppendSize, EVICT, EXPIRY_CHUNK, type Limits } from './limits.js'
import { type Drop, LogBottom } from './log-bottom.js'
import { addCounters, encodeState, type LogState, type OutboxCounters } from './outbox-state.js'
import type { OutboxRecord } from './record-codec.js'
import { RECORD_OVERHEAD } from './segment.js'
import { SegmentPacker } from './segment-packer.js'
import type { OutboxDatabase, SegmentReader } from './segment-reader.js'

export type Durability = 'fsync' | 'batch' | 'none'

/** A LevelDB chained batch of the outbox's database. */
export type OutboxBatch = ReturnType<OutboxDatabase['batch']>

/**
 * Writes one batch to LevelDB. Every write of the outbox goes through it, so a test can see what is
 * written and whether it is fsync'd (the default is `batch.write(options)`).
 */
export type BatchWriter = (batch: OutboxBatch, options: { sync: boolean }) => Promise<void>

export const defaultBatchWriter: BatchWriter = (batch, options) => batch.write(options)

export interface LogWriterOptions {
  durability: Durability
  db: () => OutboxDatabase
  reader: SegmentReader
  limits: Limits
  cursors: CursorTable
  deadLetters: DeadLetterTable
  counters: OutboxCounters
  disk: DiskGuard
  now: () => number
  writeBatch: BatchWriter
  /**
   * Before a synced write in batch mode: makes everything LevelDB wrote before it durable too (every
   * log file of the database: sync-logs.ts).
   */
  syncLogs(): Promise<void>
  /** Records were deleted (log bytes freed), for compaction. */
  onDeleted(bytes: number): void
  /** Appends were adopted (lastSeq moved). */
  onAppended(): void
  /** Records `first`..`last` were gone when the log passed them (`count` of them): counted as lost. */
  onLost(first: number, last: number, count: number): void
  /** A read retention, expiry or eviction needed failed (they wait; the store should be repaired). */
  onReadFailed(err: unknown): void
}

type Delta = { evicted: number; expired: number; lostCorrupt: number }

/** After a housekeeping read fails, retention and expiry wait this long (a repair runs meanwhile). */
const HOUSEKEEPING_PAUSE_MS = 1000

export class LogWriter {
  state: LogState = { firstSeq: 1, lastSeq: 0, firstSegment: 1, firstOffset: 0, endOffset: 0 }
  /** Batches written, how many with an fsync, and the bytes of their segments, cursors and state. */
  readonly writes = { batches: 0, synced: 0, bytes: 0 }
  /** batch/none durability: something acknowledged is not fsync'd yet. */
  unsynced = false
  private syncRequested = false
  private expiryRequested = false
  /** What STATE_KEY holds on disk, to know when it must be written again. */
  private persisted = ''
  private housekeepingPausedUntil = 0

  private readonly bottom: LogBottom

  constructor(private readonly opts: LogWriterOptions) {
    this.bottom = new LogBottom(opts.reader, opts.db, () => this.state.lastSeq)
  }

  /** The state as found on disk (at open and after a reopen). */
  load(state: LogState, persistedCounters: OutboxCounters, dead: DeadLetterState): void {
    this.state = state
    this.opts.deadLetters.load(dead)
    this.persisted = this.stateText(state, persistedCounters)
  }

  requestSync(): void {
    this.syncRequested = true
  }

  requestExpiry(): void {
    this.expiryRequested = true
  }

  hasOtherWork(): boolean {
    return (
      this.opts.cursors.hasChanges ||
      this.opts.deadLetters.hasChanges ||
      this.syncRequested ||
      ((this.expiryRequested || this.retentionTarget() >= this.state.firstSeq) && this.housekeepingDue()) ||
      this.stateText(this.state) !== this.persisted
    )
  }

  /**
   * One batch: retention, expiry, the appends `taken` (each checked against the limits), cursors, state.
   * Resolves, once written and adopted, with the function that tells the appenders.
   */
  async write(taken: PendingAppend[]): Promise<Written> {
    const { limits, cursors, counters } = this.opts
    const db = this.opts.db()
    const s: LogState = { ...this.state }
    const delta = { evicted: 0, expired: 0, lostCorrupt: 0 }
    const batch = db.batch()
    let ops = 0
    let deleted = 0

    // 1, 2. Retention (records below every cursor) and expiry (maxAgeSec). Housekeeping: if a read it
    // needs fails, it waits for a later batch (and the store is repaired); the appends go on.
    if (this.housekeepingDue()) {
      try {
        const drops: Drop[] = []
        const h: LogState = { ...s }
        const target = this.retentionTarget()
        if (target >= h.firstSeq) drops.push(await this.bottom.dropBelow(target + 1, h, []))
        const cutoff = limits.expiryCutoff(this.opts.now())
        if (this.expiryRequested && cutoff !== undefined) {
          const old = await this.opts.reader.firstNotOlder(db, h.firstSeq, h.lastSeq, cutoff, EXPIRY_CHUNK)
          const drop = await this.bottom.dropBelow(old.keepFrom, h, [])
          delta.expired += drop.present
          drops.push(drop)
          this.expiryRequested = old.more
        }
        Object.assign(s, h)
        for (const drop of drops) deleted += this.apply(drop, batch, delta)
      } catch (err) {
        this.housekeepingFailed(err)
      }
    }

    // 3. Appends, in arrival order, packed into segments. The limit check is synchronous; only an
    // eviction reads.
    const accepted: PendingAppend[] = []
    const requeued: Array<{ key: Buffer; by: 'requeued' }> = []
    const batchOffsets: number[] = [] // this batch's offsets, by seq - (this.state.lastSeq + 1)
    const packer = new SegmentPacker(batch)
    for (const p of taken) {
      const size = { count: p.records.length, bytes: p.bytes }
      let refusal = limits.check(size, s)
      if (refusal === EVICT) refusal = await this.evict(size, s, batchOffsets, batch, delta)
      if (refusal !== undefined) {
        settle(p, refusal)
        continue
      }
      p.first = s.lastSeq + 1
      for (let i = 0; i < p.records.length; i++) {
        const length = p.lengths[i] as number
        s.lastSeq++
        packer.add(s.lastSeq, p.records[i] as OutboxRecord, length, s.endOffset)
        batchOffsets.push(s.endOffset)
        s.endOffset += RECORD_OVERHEAD + length
      }
      ops += p.records.length
      accepted.push(p)
      for (const key of p.requeuedFrom ?? []) {
        batch.del(key)
        requeued.push({ key, by: 'requeued' })
      }
    }
    packer.finish()

    // 4. Cursors, then the state whenever it differs from what the disk holds.
    const cursorChanges = cursors.changes()
    let bytes = packer.bytes
    for (const [name, pos] of cursorChanges.writes) {
      const key = cursorKey(name)
      bytes += key.length + 8
      batch.put(key, encodeSeq(pos))
    }
    for (const name of cursorChanges.removes) batch.del(cursorKey(name))
    ops += cursorChanges.writes.length + cursorChanges.removes.length

    // 5. Dead letters: new ones, deletes, and the oldest evicted while over their bound.
    const { dead, deadChanges } = await this.opts.deadLetters.writeInto(db, batch, requeued)
    ops += deadChanges.puts.length + deadChanges.dels.length
    const stateText = this.stateText(s, addCounters(counters, delta), dead)
    if (stateText !== this.persisted || ops === 0) {
      const value = Buffer.from(stateText)
      bytes += STATE_KEY.length + value.length
      batch.put(STATE_KEY, value)
    }
    const syncNow = this.syncRequested || (this.opts.durability === 'fsync' && accepted.length > 0)
    this.syncRequested = false

    if (syncNow && this.opts.durability !== 'fsync') await this.opts.syncLogs()
    await this.opts.writeBatch(batch, { sync: syncNow })
    this.writes.batches++
    this.writes.bytes += bytes
    if (syncNow) this.writes.synced++

    // Adopt.
    this.state = s
    this.persisted = stateText
    counters.evicted += delta.evicted
    counters.expired += delta.expired
    counters.lostCorrupt += delta.lostCorrupt
    cursors.written(cursorChanges)
    this.opts.deadLetters.written(deadChanges, dead)
    this.unsynced = !syncNow && (this.unsynced || accepted.length > 0)
    let written = 0
    for (const p of accepted) written += p.bytes
    this.opts.disk.noteWritten(written, this.opts.now())
    if (deleted > 0) this.opts.onDeleted(deleted)
    return {
      herd: Herd.follows(accepted.length, syncNow) ? accepted.length : 0,
      tell: () => {
        for (const p of accepted) settle(p, p.first)
        if (accepted.length > 0) this.opts.onAppended()
      },
    }
  }

  /** Writes the state with an fsync (closing in batch/none mode: what was acknowledged becomes durable). */
  async syncState(): Promise<void> {
    const b = this.opts.db().batch()
    b.put(STATE_KEY, Buffer.from(this.stateText(this.state)))
    if (this.opts.durability !== 'fsync') await this.opts.syncLogs()
    await this.opts.writeBatch(b, { sync: true })
  }

  /** The state value as it would be written (compared with `persisted` to know whether to write it). */
  private stateText(
    s: LogState,
    counters: OutboxCounters = this.opts.counters,
    dead: DeadLetterState = this.opts.deadLetters.state,
  ): string {
    return encodeState({
      firstSeq: s.firstSeq,
      firstOffset: s.firstOffset,
      firstSegment: s.firstSegment,
      counters,
      dead,
    }).toString('utf8')
  }

  /** Highest sequence number every cursor is done with (-1 when there are no cursors: keep everything). */
  private retentionTarget(): number {
    const min = this.opts.cursors.min()
    return min === undefined ? -1 : Math.min(min, this.state.lastSeq)
  }

  /**
   * drop-oldest: makes room for an append by dropping the fewest oldest records (counted as evicted).
   * Returns undefined, or the error to refuse the append with when a read it needs fails.
   */
  private async evict(
    size: AppendSize,
    s: LogState,
    batchOffsets: number[],
    batch: OutboxBatch,
    delta: Delta,
  ): Promise<OutboxError | undefined> {
    try {
      const h: LogState = { ...s }
      const k = await this.opts.limits.keepFrom(size, h, (offset) =>
        this.bottom.firstSeqWithOffsetAtLeast(offset, h, batchOffsets),
      )
      const drop = await this.bottom.dropBelow(k, h, batchOffsets)
      Object.assign(s, h)
      delta.evicted += drop.present
      this.opts.onDeleted(this.apply(drop, batch, delta))
      return undefined
    } catch (err) {
      this.housekeepingFailed(err)
      return new OutboxError(
        'OUTPOST_OUTBOX_WRITE_FAILED',
        'could not make room in the outbox: a read failed',
        {
          cause: err,
        },
      )
    }
  }

  /** Puts a drop's deletes in the batch and counts what was lost; returns the log bytes freed. */
  private apply(drop: Drop, batch: OutboxBatch, delta: Delta): number {
    for (const key of drop.keys) batch.del(key)
    if (drop.lost > 0) {
      delta.lostCorrupt += drop.lost
      this.opts.onLost(drop.lostFrom, drop.lostTo, drop.lost)
    }
    return drop.freed
  }

  /** Whether retention and expiry may read now (not for a while after one of their reads failed). */
  private housekeepingDue(): boolean {
    return this.opts.now() >= this.housekeepingPausedUntil
  }

  private housekeepingFailed(err: unknown): void {
    this.housekeepingPausedUntil = this.opts.now() + HOUSEKEEPING_PAUSE_MS
    this.opts.onReadFailed(err)
  }
}
