// One batch of the log, and the log's bounds. Each batch is one chained LevelDB batch and, in fsync mode
// (or when a sync is due), one fsync. Retention, expiry, the appends, evictions, cursor moves and the
// outbox state ride in the same batch, so every crash leaves a consistent prefix of them. The writer
// works on a copy of the state and adopts it only once the batch is written.
//
// Byte accounting without scans: every record stores `offset`, the number of log bytes appended before
// it. The bytes held by records [a, b] are offset(b) + size(b) - offset(a), so retention and eviction
// need one point read, never a scan.
import type { CursorTable } from './cursor-table.js'
import { oldestDeadKeys } from './dead-letter-reads.js'
import type { DeadLetterChanges, DeadLetterState, DeadLetterTable, RemovedBy } from './dead-letter-table.js'
import type { DiskGuard } from './disk-guard.js'
import { OutboxError } from './errors.js'
import type { PendingAppend, Written } from './group-commit.js'
import { settle } from './group-commit.js'
import { Herd } from './herd.js'
import { cursorKey, encodeSeq, STATE_KEY } from './keys.js'
import { type AppendSize, EVICT, EXPIRY_CHUNK, type Limits } from './limits.js'
import { addCounters, encodeState, type LogState, type OutboxCounters } from './outbox-state.js'
import { type OutboxRecord, writeRecord } from './record-codec.js'
import {
  RECORD_OVERHEAD,
  SEGMENT_FORMAT,
  SEGMENT_MAX_BYTES,
  SEGMENT_MAX_RECORDS,
  segmentKey,
} from './segment.js'
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
  /** Records were deleted (log bytes freed), for compaction. */
  onDeleted(bytes: number): void
  /** Appends were adopted (lastSeq moved). */
  onAppended(): void
  /** Records `first`..`last` were gone when the log passed them (`count` of them): counted as lost. */
  onLost(first: number, last: number, count: number): void
  /** A read retention, expiry or eviction needed failed (they wait; the store should be repaired). */
  onReadFailed(err: unknown): void
}

/** Records dropped from the bottom of the log by one move of firstSeq. */
interface Drop {
  /** The first and last missing record found (when `lost` > 0). */
  lostFrom: number
  lostTo: number
  /** Segments now wholly below firstSeq. */
  keys: Buffer[]
  freed: number
  present: number
  lost: number
}

type Delta = { evicted: number; expired: number; lostCorrupt: number }

/** After a housekeeping read fails, retention and expiry wait this long (a repair runs meanwhile). */
const HOUSEKEEPING_PAUSE_MS = 1000

/** A segment being built by the writer. */
interface SegmentDraft {
  first: number
  records: OutboxRecord[]
  lengths: number[]
  offsets: number[]
  bytes: number
}

export class LogWriter {
  state: LogState = { firstSeq: 1, lastSeq: 0, firstSegment: 1, firstOffset: 0, endOffset: 0 }
  readonly writes = { batches: 0, synced: 0 }
  /** batch/none durability: something acknowledged is not fsync'd yet. */
  unsynced = false
  private syncRequested = false
  private expiryRequested = false
  /** What STATE_KEY holds on disk, to know when it must be written again. */
  private persisted = ''
  private housekeepingPausedUntil = 0

  constructor(private readonly opts: LogWriterOptions) {}

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
        if (target >= h.firstSeq) drops.push(await this.dropBelow(target + 1, h, []))
        const cutoff = limits.expiryCutoff(this.opts.now())
        if (this.expiryRequested && cutoff !== undefined) {
          const old = await this.opts.reader.firstNotOlder(db, h.firstSeq, h.lastSeq, cutoff, EXPIRY_CHUNK)
          const drop = await this.dropBelow(old.keepFrom, h, [])
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
    let draft: SegmentDraft | undefined
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
        const recordSize = RECORD_OVERHEAD + length
        s.lastSeq++
        if (
          draft === undefined ||
          draft.records.length >= SEGMENT_MAX_RECORDS ||
          (draft.bytes + recordSize > SEGMENT_MAX_BYTES && draft.records.length > 0)
        ) {
          if (draft) putSegment(batch, draft)
          draft = { first: s.lastSeq, records: [], lengths: [], offsets: [], bytes: 0 }
        }
        draft.records.push(p.records[i] as OutboxRecord)
        draft.lengths.push(length)
        draft.offsets.push(s.endOffset)
        draft.bytes += recordSize
        batchOffsets.push(s.endOffset)
        s.endOffset += recordSize
      }
      ops += p.records.length
      accepted.push(p)
      for (const key of p.requeuedFrom ?? []) {
        batch.del(key)
        requeued.push({ key, by: 'requeued' })
      }
    }
    if (draft) putSegment(batch, draft)

    // 4. Cursors, then the state whenever it differs from what the disk holds.
    const cursorChanges = cursors.changes()
    for (const [name, pos] of cursorChanges.writes) batch.put(cursorKey(name), encodeSeq(pos))
    for (const name of cursorChanges.removes) batch.del(cursorKey(name))
    ops += cursorChanges.writes.length + cursorChanges.removes.length

    // 5. Dead letters: new ones, deletes, and the oldest evicted while over their bound.
    const { dead, deadChanges } = await this.deadLetters(db, batch, requeued)
    ops += deadChanges.puts.length + deadChanges.dels.length
    const stateText = this.stateText(s, addCounters(counters, delta), dead)
    if (stateText !== this.persisted || ops === 0) batch.put(STATE_KEY, Buffer.from(stateText))
    const syncNow = this.syncRequested || (this.opts.durability === 'fsync' && accepted.length > 0)
    this.syncRequested = false

    await this.opts.writeBatch(batch, { sync: syncNow })
    this.writes.batches++
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

  /** Puts the dead-letter changes in `batch`; returns them and the dead-letter state after it. */
  private async deadLetters(
    db: OutboxDatabase,
    batch: OutboxBatch,
    requeued: ReadonlyArray<{ key: Buffer; by: 'requeued' }>,
  ): Promise<{ dead: DeadLetterState; deadChanges: DeadLetterChanges }> {
    const table = this.opts.deadLetters
    const deadChanges = table.changes()
    for (const p of deadChanges.puts) batch.put(p.key, p.value)
    for (const d of deadChanges.dels) batch.del(d.key)
    const removed: Array<{ key: Buffer; by: RemovedBy }> = [...requeued]
    let dead = table.next(deadChanges, removed)
    if (dead.bytes > table.maxBytes) {
      const going = new Set([...removed, ...deadChanges.dels].map((d) => d.key.toString('hex')))
      const skip = (key: Buffer) => going.has(key.toString('hex')) || table.isDeleting(key)
      for (const key of await oldestDeadKeys(db, dead.bytes - table.maxBytes, skip)) {
        batch.del(key)
        removed.push({ key, by: 'evicted' })
      }
      dead = table.next(deadChanges, removed)
    }
    return { dead, deadChanges }
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
        this.firstSeqWithOffsetAtLeast(offset, h, batchOffsets),
      )
      const drop = await this.dropBelow(k, h, batchOffsets)
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

  /**
   * Drops records [s.firstSeq, newFirst): moves `s`, and returns the segments now wholly below it (to
   * delete), the log bytes freed, and how many of the dropped records were there and how many had gone
   * missing (a damaged store: counted once, here, as the log passes them). Nothing goes into a batch
   * yet, so a read that fails midway leaves the batch as it was.
   */
  private async dropBelow(newFirst: number, s: LogState, batchOffsets: number[]): Promise<Drop> {
    const drop: Drop = { lostFrom: 0, lostTo: 0, keys: [], freed: 0, present: 0, lost: 0 }
    if (newFirst <= s.firstSeq) return drop
    const newFirstOffset = await this.offsetOf(newFirst, s, batchOffsets)
    // Records of this very batch (evicted before they were ever written) are not in the database.
    const inDb = Math.min(newFirst, this.state.lastSeq + 1)
    drop.present = newFirst - Math.max(s.firstSeq, inDb)
    let expect = s.firstSeq // the next record the segments should hold
    const gap = (to: number) => {
      if (to <= expect) return
      drop.lost += to - expect
      drop.lostFrom ||= expect
      drop.lostTo = to - 1
    }
    for (const seg of await this.opts.reader.segmentsBelow(this.opts.db(), s.firstSegment, newFirst)) {
      gap(Math.min(seg.firstSeq, inDb))
      const to = Math.min(seg.firstSeq + seg.count, inDb)
      if (to > expect) {
        drop.present += to - Math.max(seg.firstSeq, expect)
        expect = to
      }
      if (seg.firstSeq + seg.count > newFirst) break
      drop.keys.push(seg.key)
      s.firstSegment = seg.firstSeq + seg.count
    }
    gap(inDb)
    drop.freed = newFirstOffset - s.firstOffset
    s.firstSeq = newFirst
    s.firstOffset = newFirstOffset
    return drop
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

  /** Offset of record `seq` in the working state `s` (of the next record present when it is missing). */
  private async offsetOf(seq: number, s: LogState, batchOffsets: number[]): Promise<number> {
    if (seq > s.lastSeq) return s.endOffset
    if (seq <= s.firstSeq) return s.firstOffset
    const inBatch = seq - (this.state.lastSeq + 1)
    if (inBatch >= 0) return batchOffsets[inBatch] as number
    const next = await this.opts.reader.presentFrom(this.opts.db(), seq)
    if (next !== undefined && next.seq <= this.state.lastSeq) return next.offset
    return batchOffsets.length > 0 ? (batchOffsets[0] as number) : s.endOffset
  }

  /** Whether retention and expiry may read now (not for a while after one of their reads failed). */
  private housekeepingDue(): boolean {
    return this.opts.now() >= this.housekeepingPausedUntil
  }

  private housekeepingFailed(err: unknown): void {
    this.housekeepingPausedUntil = this.opts.now() + HOUSEKEEPING_PAUSE_MS
    this.opts.onReadFailed(err)
  }

  /** Binary search: lowest seq in [firstSeq, lastSeq + 1] whose offset is ≥ `offset`. */
  private async firstSeqWithOffsetAtLeast(
    offset: number,
    s: LogState,
    batchOffsets: number[],
  ): Promise<number> {
    let lo = s.firstSeq
    let hi = s.lastSeq + 1
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2)
      if ((await this.offsetOf(mid, s, batchOffsets)) >= offset) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

/** Encodes a draft segment in one buffer and puts it in the batch. */
function putSegment(batch: OutboxBatch, draft: SegmentDraft): void {
  const value = Buffer.allocUnsafe(1 + draft.bytes)
  value[0] = SEGMENT_FORMAT
  let pos = 1
  for (let i = 0; i < draft.records.length; i++) {
    const length = draft.lengths[i] as number
    value.writeUInt32BE(length, pos)
    writeRecord(value, pos + RECORD_OVERHEAD, draft.records[i] as OutboxRecord, draft.offsets[i] as number)
    pos += RECORD_OVERHEAD + length
  }
  batch.put(segmentKey(draft.first, draft.records.length), value)
}
