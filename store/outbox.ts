// The outbox: an append-only log of readings in LevelDB, with one durable cursor per upstream.
//
// Writes all go through one writer loop (group commit): appends that arrive while a write is in
// progress join the next batch, and a lone appender is written at once (at the end of the current
// tick, so the packets of one socket read share a batch). Each batch is one chained LevelDB batch and,
// in fsync mode, one fsync. Cursor moves, retention deletes, evictions and the outbox state ride in
// the same batches, so every crash leaves a consistent prefix of them.
//
// Byte accounting without scans: every record stores `offset`, the number of log bytes appended before
// it. The bytes held by records [a, b] are offset(b) + size(b) - offset(a), so retention and eviction
// need one point read, never a scan, and opening needs one reverse seek: start-up time does not grow
// with the backlog.
import { EventEmitter } from 'node:events'
import { mkdir, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { DiskGuard } from './disk-guard.js'
import { type FullReason, isNoSpace, OutboxError } from './errors.js'
import {
  CURSORS_END,
  CURSORS_START,
  cursorKey,
  cursorNameFromKey,
  decodeSeq,
  encodeSeq,
  RECORD_KEY_BYTES,
  RECORDS_END,
  recordKey,
  STATE_KEY,
  seqFromRecordKey,
} from './keys.js'
import {
  decodeRecord,
  encodeRecord,
  type OutboxRecord,
  RecordDecodeError,
  readRecordOffset,
  readRecordTs,
  type StoredRecord,
} from './record-codec.js'

export type Durability = 'fsync' | 'batch' | 'none'
export type WhenFull = 'reject' | 'drop-oldest'

export interface OutboxLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const silentLogger: OutboxLogger = { debug() {}, info() {}, warn() {}, error() {} }

export interface OutboxOptions {
  /** Data directory; the database lives in `<dir>/outbox`, the disk reserve in `<dir>/reserve.bin`. */
  dir: string
  durability?: Durability
  /** In batch mode: the longest time a write may wait for its fsync. */
  syncIntervalMs?: number
  maxBytes?: number
  maxMessages?: number
  maxAgeSec?: number
  whenFull?: WhenFull
  minFreeDiskBytes?: number
  reserveBytes?: number
  /** Compact the deleted range once this many bytes were deleted since the last compaction. */
  compactAfterBytes?: number
  /** …and at most this often. */
  compactMinIntervalMs?: number
  logger?: OutboxLogger
  now?: () => number
}

export interface ReadOptions {
  maxRecords?: number
  maxBytes?: number
}

export interface CursorStats {
  name: string
  /** Sequence number of the last record this cursor is done with. */
  position: number
  /** Records past the cursor (including records routed only to other upstreams, which it skips). */
  backlogMessages: number
  backlogBytes: number
  /** Age of the oldest record past the cursor, in ms (0 when there is none). */
  oldestAgeMs: number
}

export interface OutboxCounters {
  /** Records removed by whenFull: drop-oldest. */
  evicted: number
  /** Records removed because they were older than maxAgeSec. */
  expired: number
  /** Backlog abandoned when an upstream's cursor was removed. */
  upstreamRemoved: number
  /** Records refused by whenFull: reject, by the limit that refused them. */
  rejectedBytes: number
  rejectedMessages: number
  rejectedDisk: number
  /** Records refused because a write failed (ENOSPC or another I/O error). */
  writeFailed: number
}

export interface OutboxStats {
  state: 'ok' | 'recovering' | 'closed'
  durability: Durability
  firstSeq: number
  lastSeq: number
  messages: number
  bytes: number
  /** Records appended since the outbox was created (the last sequence number). */
  appended: number
  maxBytes: number
  maxMessages: number | undefined
  diskBytes: number
  diskFreeBytes: number
  cursors: CursorStats[]
  counters: OutboxCounters
}

interface PendingAppend {
  values: Buffer[]
  bytes: number
  resolve: (firstSeq: number) => void
  reject: (err: Error) => void
}

/** What the writer changes; worked on as a copy and adopted only after the batch is written. */
interface LogState {
  firstSeq: number
  lastSeq: number
  /** offset of record firstSeq (or of the next record when the log is empty). */
  firstOffset: number
  /** offset the next record will get. */
  endOffset: number
  counters: OutboxCounters
}

const STATE_VERSION = 1
const MAX_BATCH_RECORDS = 8192
const MAX_BATCH_BYTES = 8 * 2 ** 20
const RETENTION_CHUNK = 4096
const EXPIRY_CHUNK = 1024

const zeroCounters = (): OutboxCounters => ({
  evicted: 0,
  expired: 0,
  upstreamRemoved: 0,
  rejectedBytes: 0,
  rejectedMessages: 0,
  rejectedDisk: 0,
  writeFailed: 0,
})

export class Outbox extends EventEmitter {
  readonly dir: string
  readonly durability: Durability
  private readonly opts: Required<Omit<OutboxOptions, 'maxMessages' | 'maxAgeSec' | 'logger' | 'now'>> &
    Pick<OutboxOptions, 'maxMessages' | 'maxAgeSec'>
  private readonly log: OutboxLogger
  private readonly now: () => number
  private readonly disk: DiskGuard
  private db: ClassicLevel<Buffer, Buffer>
  private state: LogState = {
    firstSeq: 1,
    lastSeq: 0,
    firstOffset: 0,
    endOffset: 0,
    counters: zeroCounters(),
  }

  private pending: PendingAppend[] = []
  private readonly cursorPos = new Map<string, number>()
  private readonly dirtyCursors = new Map<string, number>()
  private readonly removedCursors = new Set<string>()
  private stateDirty = false
  private syncRequested = false
  private unsynced = false
  private expiryRequested = false

  private writing = false
  private kickScheduled = false
  private idleWaiters: Array<() => void> = []
  private appendWaiters = new Set<{ after: number; resolve: () => void }>()

  private closing = false
  private closed = false
  private broken: OutboxError | undefined
  private recovery: Promise<void> | undefined
  private compaction: Promise<void> | undefined
  private deletedSinceCompact = 0
  private lastCompact = 0
  private readonly timers: NodeJS.Timeout[] = []

  private constructor(options: OutboxOptions) {
    super()
    this.dir = options.dir
    this.durability = options.durability ?? 'fsync'
    this.opts = {
      dir: options.dir,
      durability: this.durability,
      syncIntervalMs: options.syncIntervalMs ?? 100,
      maxBytes: options.maxBytes ?? 2 ** 30,
      maxMessages: options.maxMessages,
      maxAgeSec: options.maxAgeSec,
      whenFull: options.whenFull ?? 'reject',
      minFreeDiskBytes: options.minFreeDiskBytes ?? 64 * 2 ** 20,
      reserveBytes: options.reserveBytes ?? 8 * 2 ** 20,
      compactAfterBytes:
        options.compactAfterBytes ??
        Math.min(64 * 2 ** 20, Math.max(2 ** 20, (options.maxBytes ?? 2 ** 30) / 16)),
      compactMinIntervalMs: options.compactMinIntervalMs ?? 60_000,
    }
    this.log = options.logger ?? silentLogger
    this.now = options.now ?? Date.now
    this.disk = new DiskGuard({
      dir: options.dir,
      minFreeBytes: this.opts.minFreeDiskBytes,
      reserveBytes: this.opts.reserveBytes,
    })
    this.db = this.newDb()
  }

  /** Opens (or creates) the outbox in `options.dir`. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(options)
    await mkdir(options.dir, { recursive: true })
    await outbox.openDb()
    await outbox.loadState()
    await outbox.disk.refresh()
    await outbox.disk.ensureReserve().catch((err: unknown) => {
      outbox.log.warn({ err }, 'could not create the disk reserve file')
    })
    outbox.startTimers()
    return outbox
  }

  get firstSeq(): number {
    return this.state.firstSeq
  }

  get lastSeq(): number {
    return this.state.lastSeq
  }

  get isRecovering(): boolean {
    return this.broken !== undefined
  }

  // ---------------------------------------------------------------- appends

  /**
   * Appends records in order; resolves with the sequence number of the first one (the rest follow
   * contiguously) once they are committed at the configured durability. Rejects with an OutboxError:
   * OUTPOST_OUTBOX_FULL (under whenFull: reject), OUTPOST_OUTBOX_NO_SPACE or _WRITE_FAILED (nothing of
   * this append was stored), _RECORD_TOO_LARGE, _CLOSED.
   */
  append(records: readonly OutboxRecord[]): Promise<number> {
    if (this.closing) return Promise.reject(this.closedError())
    if (this.broken) {
      this.state.counters.writeFailed += records.length
      this.stateDirty = true
      return Promise.reject(this.broken)
    }
    if (records.length === 0) return Promise.resolve(this.state.lastSeq + 1)
    const values: Buffer[] = new Array(records.length)
    let bytes = 0
    for (let i = 0; i < records.length; i++) {
      const value = encodeRecord(records[i] as OutboxRecord, 0)
      values[i] = value
      bytes += RECORD_KEY_BYTES + value.length
    }
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ values, bytes, resolve, reject })
      this.kick()
    })
  }

  // ---------------------------------------------------------------- reads

  /** Records after sequence number `after`, in order. Always returns at least one record if any exists. */
  async read(after: number, options: ReadOptions = {}): Promise<StoredRecord[]> {
    const maxRecords = options.maxRecords ?? 512
    const maxBytes = options.maxBytes ?? 2 ** 20
    await this.whenOpen()
    const from = Math.max(after, this.state.firstSeq - 1)
    if (from >= this.state.lastSeq) return []
    const out: StoredRecord[] = []
    let bytes = 0
    const it = this.db.iterator({ gt: recordKey(from), lt: RECORDS_END, limit: maxRecords })
    try {
      while (out.length < maxRecords && bytes < maxBytes) {
        const entries = await it.nextv(Math.min(64, maxRecords - out.length))
        if (entries.length === 0) break
        for (const [key, value] of entries) {
          const record = this.decode(key, value)
          if (out.length > 0 && bytes + record.size > maxBytes) return out
          out.push(record)
          bytes += record.size
        }
      }
    } finally {
      await it.close()
    }
    return out
  }

  /** Resolves once a record after `after` exists (or the signal aborts, or the outbox closes). */
  waitForAppend(after: number, signal?: AbortSignal): Promise<void> {
    if (this.state.lastSeq > after || this.closing) return Promise.resolve()
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        after,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const onAbort = () => {
        this.appendWaiters.delete(waiter)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.appendWaiters.add(waiter)
    })
  }

  // ---------------------------------------------------------------- cursors

  /** Cursor names known to the outbox. */
  cursorNames(): string[] {
    return [...this.cursorPos.keys()]
  }

  /**
   * Returns the cursor's position, creating it if needed. A new cursor starts before the oldest record
   * still kept, so an upstream added later receives everything buffered so far.
   */
  cursor(name: string): number {
    this.assertOpen()
    const pos = this.cursorPos.get(name)
    if (pos !== undefined) return pos
    const start = this.state.firstSeq - 1
    this.cursorPos.set(name, start)
    this.removedCursors.delete(name)
    this.dirtyCursors.set(name, start)
    this.kick()
    return start
  }

  /**
   * Moves a cursor forward to `seq` (the last record this upstream is done with). Written with the next
   * batch; records below every cursor are then deleted. Moving backwards is ignored.
   */
  commit(name: string, seq: number): void {
    this.assertOpen()
    const pos = this.cursorPos.get(name)
    if (pos === undefined) throw new Error(`unknown cursor "${name}"`)
    if (seq <= pos) return
    const to = Math.min(seq, this.state.lastSeq)
    this.cursorPos.set(name, to)
    this.dirtyCursors.set(name, to)
    this.kick()
  }

  /** Removes a cursor (its upstream left the config); its backlog is counted as dropped. Returns that count. */
  removeCursor(name: string): number {
    this.assertOpen()
    const pos = this.cursorPos.get(name)
    if (pos === undefined) return 0
    const backlog = Math.max(0, this.state.lastSeq - Math.max(pos, this.state.firstSeq - 1))
    this.cursorPos.delete(name)
    this.dirtyCursors.delete(name)
    this.removedCursors.add(name)
    this.state.counters.upstreamRemoved += backlog
    this.stateDirty = true
    this.kick()
    return backlog
  }

  // ---------------------------------------------------------------- stats

  async stats(): Promise<OutboxStats> {
    const s = this.state
    const cursors: CursorStats[] = []
    const now = this.now()
    if (!this.closed && !this.broken) {
      for (const [name, position] of this.cursorPos) {
        const start = Math.max(position + 1, s.firstSeq)
        if (start > s.lastSeq) {
          cursors.push({ name, position, backlogMessages: 0, backlogBytes: 0, oldestAgeMs: 0 })
          continue
        }
        const value = await this.getRecordValue(start)
        cursors.push({
          name,
          position,
          backlogMessages: s.lastSeq - start + 1,
          backlogBytes: s.endOffset - (value ? readRecordOffset(value) : s.firstOffset),
          oldestAgeMs: value ? Math.max(0, now - readRecordTs(value)) : 0,
        })
      }
    }
    await this.disk.refresh(now)
    return {
      state: this.closed ? 'closed' : this.broken ? 'recovering' : 'ok',
      durability: this.durability,
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      messages: s.lastSeq - s.firstSeq + 1,
      bytes: s.endOffset - s.firstOffset,
      appended: s.lastSeq,
      maxBytes: this.opts.maxBytes,
      maxMessages: this.opts.maxMessages,
      diskBytes: await dirBytes(join(this.dir, 'outbox')),
      diskFreeBytes: this.disk.free,
      cursors,
      counters: { ...s.counters },
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Resolves when everything handed to the outbox so far has been written. */
  async flush(): Promise<void> {
    this.kick()
    while (this.writing || this.kickScheduled || this.hasWork()) {
      if (this.broken || this.closed || this.db.status !== 'open') return
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
    }
  }

  /** Compacts the range of deleted records now (LevelDB does not give the space back by itself). */
  compact(): Promise<void> {
    if (this.compaction) return this.compaction
    const end = recordKey(this.state.firstSeq)
    this.lastCompact = this.now()
    this.deletedSinceCompact = 0
    this.compaction = this.whenOpen()
      .then(() => this.db.compactRange(recordKey(0), end))
      .catch((err: unknown) => this.log.warn({ err }, 'outbox compaction failed'))
      .finally(() => {
        this.compaction = undefined
      })
    return this.compaction
  }

  /** Writes what is pending (appends already accepted, cursor moves), then closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) {
      while (!this.closed) await new Promise((r) => setTimeout(r, 5))
      return
    }
    this.closing = true
    for (const t of this.timers) clearInterval(t)
    if (!this.broken) await this.flush()
    if (this.recovery) await this.recovery.catch(() => undefined)
    if (this.compaction) await this.compaction
    const err = this.closedError()
    for (const p of this.pending.splice(0)) p.reject(err)
    for (const w of this.appendWaiters) w.resolve()
    this.appendWaiters.clear()
    try {
      if (this.db.status === 'open') {
        if (this.unsynced) {
          const b = this.db.batch()
          b.put(STATE_KEY, this.encodeState(this.state))
          await b.write({ sync: true })
        }
        await this.db.close()
      }
    } finally {
      this.closed = true
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  // ---------------------------------------------------------------- writer

  private kick(): void {
    if (this.writing || this.kickScheduled || this.broken) return
    this.kickScheduled = true
    queueMicrotask(() => {
      this.kickScheduled = false
      void this.runWriter()
    })
  }

  private hasWork(): boolean {
    return (
      this.pending.length > 0 ||
      this.dirtyCursors.size > 0 ||
      this.removedCursors.size > 0 ||
      this.stateDirty ||
      this.syncRequested ||
      this.expiryRequested ||
      this.retentionTarget() >= this.state.firstSeq
    )
  }

  private async runWriter(): Promise<void> {
    if (this.writing || this.closed) return
    this.writing = true
    try {
      while (!this.broken && this.db.status === 'open' && this.hasWork()) {
        await this.writeOnce()
      }
    } finally {
      this.writing = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  /** Highest sequence number every cursor is done with (-1 when there are no cursors: keep everything). */
  private retentionTarget(): number {
    if (this.cursorPos.size === 0) return -1
    let min = Number.POSITIVE_INFINITY
    for (const pos of this.cursorPos.values()) if (pos < min) min = pos
    return Math.min(min, this.state.lastSeq)
  }

  private async writeOnce(): Promise<void> {
    const s: LogState = { ...this.state, counters: { ...this.state.counters } }
    const batch = this.db.batch()
    let ops = 0
    let deleted = 0
    let stateChanged = this.stateDirty
    this.stateDirty = false

    // 1. Retention: delete records below every cursor, a chunk at a time.
    const target = this.retentionTarget()
    if (target >= s.firstSeq) {
      const upTo = Math.min(target, s.firstSeq + RETENTION_CHUNK - 1)
      const newFirstOffset = await this.offsetOf(upTo + 1, s)
      for (let seq = s.firstSeq; seq <= upTo; seq++) batch.del(recordKey(seq))
      ops += upTo - s.firstSeq + 1
      deleted += newFirstOffset - s.firstOffset
      s.firstSeq = upTo + 1
      s.firstOffset = newFirstOffset
      stateChanged = true
    }

    // 2. Expiry (maxAgeSec): delete old records from the bottom.
    if (this.expiryRequested && this.opts.maxAgeSec !== undefined) {
      this.expiryRequested = false
      const cutoff = this.now() - this.opts.maxAgeSec * 1000
      const n = await this.countExpired(s.firstSeq, s.lastSeq, cutoff)
      if (n > 0) {
        const upTo = s.firstSeq + n - 1
        const newFirstOffset = await this.offsetOf(upTo + 1, s)
        for (let seq = s.firstSeq; seq <= upTo; seq++) batch.del(recordKey(seq))
        ops += n
        deleted += newFirstOffset - s.firstOffset
        s.counters.expired += n
        s.firstSeq = upTo + 1
        s.firstOffset = newFirstOffset
        stateChanged = true
        if (n === EXPIRY_CHUNK) this.expiryRequested = true
      }
    }

    // 3. Appends, in arrival order, each checked against the limits.
    const taken = this.takePending()
    const accepted: Array<{ p: PendingAppend; first: number }> = []
    const rejected: Array<{ p: PendingAppend; err: OutboxError }> = []
    const batchOffsets: number[] = [] // offsets of records put in this batch, by seq - (this.state.lastSeq + 1)
    for (const p of taken) {
      const n = p.values.length
      const verdict = await this.admit(p, s, batchOffsets, batch)
      if (verdict !== undefined) {
        rejected.push({ p, err: verdict })
        stateChanged = true
        continue
      }
      const first = s.lastSeq + 1
      for (const value of p.values) {
        value.writeDoubleBE(s.endOffset, 2) // patch the offset into the encoded record (record-codec.ts)
        s.lastSeq++
        batch.put(recordKey(s.lastSeq), value)
        batchOffsets.push(s.endOffset)
        s.endOffset += RECORD_KEY_BYTES + value.length
      }
      ops += n
      accepted.push({ p, first })
    }
    for (const { p, err } of rejected) p.reject(err)

    // 4. Cursors and state.
    const cursorsWritten = [...this.dirtyCursors]
    for (const [name, pos] of cursorsWritten) batch.put(cursorKey(name), encodeSeq(pos))
    const removed = [...this.removedCursors]
    for (const name of removed) batch.del(cursorKey(name))
    ops += cursorsWritten.length + removed.length
    const syncNow = this.syncRequested || (this.durability === 'fsync' && accepted.length > 0)
    this.syncRequested = false
    if (stateChanged || ops === 0) batch.put(STATE_KEY, this.encodeState(s))

    try {
      await batch.write({ sync: syncNow })
    } catch (err) {
      this.onWriteFailed(err, accepted, cursorsWritten, removed, s.counters)
      return
    }

    // Adopt the new state.
    this.state = s
    for (const [name, pos] of cursorsWritten)
      if (this.dirtyCursors.get(name) === pos) this.dirtyCursors.delete(name)
    for (const name of removed) if (!this.cursorPos.has(name)) this.removedCursors.delete(name)
    this.unsynced = !syncNow && (this.unsynced || accepted.length > 0)
    const written = accepted.reduce((sum, a) => sum + a.p.bytes, 0)
    this.disk.noteWritten(written, this.now())
    for (const { p, first } of accepted) p.resolve(first)
    if (accepted.length > 0) this.notifyAppended()
    if (deleted > 0) this.noteDeleted(deleted)
  }

  private takePending(): PendingAppend[] {
    let records = 0
    let bytes = 0
    let i = 0
    for (; i < this.pending.length; i++) {
      const p = this.pending[i] as PendingAppend
      if (i > 0 && (records + p.values.length > MAX_BATCH_RECORDS || bytes + p.bytes > MAX_BATCH_BYTES)) break
      records += p.values.length
      bytes += p.bytes
    }
    return i === this.pending.length ? this.pending.splice(0) : this.pending.splice(0, i)
  }

  /** Checks one append against the limits; evicts under drop-oldest. Returns the error to reject it with. */
  private async admit(
    p: PendingAppend,
    s: LogState,
    batchOffsets: number[],
    batch: ReturnType<ClassicLevel<Buffer, Buffer>['batch']>,
  ): Promise<OutboxError | undefined> {
    const n = p.values.length
    const { maxBytes, maxMessages, whenFull } = this.opts
    if (p.bytes > maxBytes || (maxMessages !== undefined && n > maxMessages)) {
      s.counters.rejectedBytes += n
      return new OutboxError(
        'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
        `append of ${n} record(s), ${p.bytes} bytes, exceeds the outbox limits (maxBytes ${maxBytes})`,
      )
    }
    if (this.disk.wouldRunLow(p.bytes)) {
      s.counters.rejectedDisk += n
      return this.fullError('disk', n)
    }
    const overMessages = maxMessages !== undefined && s.lastSeq - s.firstSeq + 1 + n > maxMessages
    const overBytes = s.endOffset - s.firstOffset + p.bytes > maxBytes
    if (!overMessages && !overBytes) return undefined
    if (whenFull === 'reject') {
      if (overBytes) s.counters.rejectedBytes += n
      else s.counters.rejectedMessages += n
      return this.fullError(overBytes ? 'bytes' : 'messages', n)
    }
    // drop-oldest: the new first record is the lowest k that satisfies both limits.
    let k = s.firstSeq
    if (overMessages && maxMessages !== undefined) k = Math.max(k, s.lastSeq + n - maxMessages + 1)
    if (overBytes) {
      const needOffset = s.endOffset + p.bytes - maxBytes
      k = Math.max(k, await this.firstSeqWithOffsetAtLeast(needOffset, s, batchOffsets))
    }
    const newFirstOffset = await this.offsetOf(k, s, batchOffsets)
    for (let seq = s.firstSeq; seq < k; seq++) batch.del(recordKey(seq))
    s.counters.evicted += k - s.firstSeq
    this.deletedSinceCompact += newFirstOffset - s.firstOffset
    s.firstSeq = k
    s.firstOffset = newFirstOffset
    return undefined
  }

  /** Offset of record `seq` (or the end offset for lastSeq + 1), in the working state `s`. */
  private async offsetOf(seq: number, s: LogState, batchOffsets: number[] = []): Promise<number> {
    if (seq > s.lastSeq) return s.endOffset
    if (seq <= s.firstSeq) return s.firstOffset
    const inBatch = seq - (this.state.lastSeq + 1)
    if (inBatch >= 0) return batchOffsets[inBatch] as number
    const value = await this.getRecordValue(seq)
    if (!value) throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `record ${seq} is missing from the outbox`)
    return readRecordOffset(value)
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

  private async countExpired(firstSeq: number, lastSeq: number, cutoff: number): Promise<number> {
    if (firstSeq > lastSeq) return 0
    let n = 0
    const it = this.db.iterator({ gte: recordKey(firstSeq), lt: RECORDS_END, limit: EXPIRY_CHUNK })
    try {
      for (;;) {
        const entries = await it.nextv(256)
        if (entries.length === 0) return n
        for (const [, value] of entries) {
          if (readRecordTs(value) >= cutoff) return n
          n++
        }
      }
    } finally {
      await it.close()
    }
  }

  private notifyAppended(): void {
    const last = this.state.lastSeq
    for (const w of this.appendWaiters) {
      if (last > w.after) {
        this.appendWaiters.delete(w)
        w.resolve()
      }
    }
    this.emit('append', last)
  }

  private noteDeleted(bytes: number): void {
    this.deletedSinceCompact += bytes
    const now = this.now()
    if (
      this.deletedSinceCompact >= this.opts.compactAfterBytes &&
      now - this.lastCompact >= this.opts.compactMinIntervalMs &&
      !this.closing
    ) {
      void this.compact()
    }
  }

  private onWriteFailed(
    err: unknown,
    accepted: Array<{ p: PendingAppend; first: number }>,
    cursorsWritten: Array<[string, number]>,
    removed: string[],
    counters: OutboxCounters,
  ): void {
    const noSpace = isNoSpace(err)
    const failure = new OutboxError(
      noSpace ? 'OUTPOST_OUTBOX_NO_SPACE' : 'OUTPOST_OUTBOX_WRITE_FAILED',
      noSpace
        ? 'the disk is full: the append was not stored'
        : `outbox write failed: ${(err as Error).message}`,
      { cause: err },
    )
    // Nothing of this batch is adopted; keep only the counts of what was refused or failed.
    const failedRecords = accepted.reduce((n, a) => n + a.p.values.length, 0)
    this.state.counters = { ...counters, writeFailed: counters.writeFailed + failedRecords }
    this.stateDirty = true
    for (const [name, pos] of cursorsWritten)
      if (!this.dirtyCursors.has(name)) this.dirtyCursors.set(name, pos)
    for (const name of removed) this.removedCursors.add(name)
    for (const { p } of accepted) p.reject(failure)
    this.log.error({ err, code: failure.code }, 'outbox write failed; recovering')
    this.broken = failure
    for (const p of this.pending.splice(0)) {
      this.state.counters.writeFailed += p.values.length
      p.reject(failure)
    }
    this.recovery = this.recover(noSpace).finally(() => {
      this.recovery = undefined
    })
  }

  /**
   * LevelDB keeps a write error sticky until the database is reopened, so recovery is close + reopen
   * (after freeing the reserve when the disk is full), retried with backoff until it works.
   */
  private async recover(noSpace: boolean): Promise<void> {
    let delay = 100
    for (let attempt = 1; !this.closing || attempt === 1; attempt++) {
      if (noSpace) {
        const freed = await this.disk.releaseReserve()
        if (freed > 0)
          this.log.warn({ freed }, 'disk full: released the reserve file so the outbox can recover')
      }
      try {
        if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
        this.db = this.newDb()
        await this.openDb()
        await this.loadState()
        await this.disk.refresh()
        this.broken = undefined
        this.log.info({ attempt, lastSeq: this.state.lastSeq }, 'outbox recovered')
        void this.disk.ensureReserve().catch(() => undefined)
        this.kick()
        return
      } catch (err) {
        this.log.warn({ err, attempt }, 'outbox recovery failed; retrying')
        if (this.closing) return
        await new Promise((r) => setTimeout(r, delay))
        delay = Math.min(delay * 2, 10_000)
      }
    }
  }

  // ---------------------------------------------------------------- opening and state

  private newDb(): ClassicLevel<Buffer, Buffer> {
    return new ClassicLevel<Buffer, Buffer>(join(this.dir, 'outbox'), {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    })
  }

  private async openDb(): Promise<void> {
    try {
      await this.db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new OutboxError(
          'OUTPOST_OUTBOX_LOCKED',
          `the outbox in ${this.dir} is locked by another process (is the gateway running?)`,
          { cause: err },
        )
      }
      if (isNoSpace(err)) {
        throw new OutboxError('OUTPOST_OUTBOX_NO_SPACE', `cannot open the outbox in ${this.dir}: disk full`, {
          cause: err,
        })
      }
      throw new OutboxError(
        'OUTPOST_OUTBOX_OPEN_FAILED',
        `cannot open the outbox in ${this.dir}: ${(err as Error).message}`,
        {
          cause: err,
        },
      )
    }
  }

  /** Reads the state, the last record and the cursors: a handful of reads, whatever the backlog. */
  private async loadState(): Promise<void> {
    const raw = await this.db.get(STATE_KEY)
    let firstSeq = 1
    let firstOffset = 0
    let counters = zeroCounters()
    if (raw !== undefined) {
      try {
        const parsed = JSON.parse(raw.toString('utf8')) as {
          v: number
          firstSeq: number
          firstOffset: number
          counters: Partial<OutboxCounters>
        }
        if (parsed.v !== STATE_VERSION) throw new Error(`unknown state version ${parsed.v}`)
        firstSeq = parsed.firstSeq
        firstOffset = parsed.firstOffset
        counters = { ...zeroCounters(), ...parsed.counters }
      } catch (err) {
        throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `outbox state in ${this.dir} is unreadable`, {
          cause: err,
        })
      }
    }
    let lastSeq = firstSeq - 1
    let endOffset = firstOffset
    const last = await this.db.iterator({ gte: recordKey(0), lt: RECORDS_END, reverse: true, limit: 1 }).all()
    const entry = last[0]
    if (entry) {
      const record = this.decode(entry[0], entry[1])
      if (record.seq >= firstSeq) {
        lastSeq = record.seq
        endOffset = record.offset + record.size
      }
    }
    // Kept counters that the failed batch did not persist.
    const mem = this.state.counters
    for (const k of Object.keys(counters) as Array<keyof OutboxCounters>)
      counters[k] = Math.max(counters[k], mem[k])
    this.state = { firstSeq, lastSeq, firstOffset, endOffset, counters }

    for await (const [key, value] of this.db.iterator({ gte: CURSORS_START, lt: CURSORS_END })) {
      const name = cursorNameFromKey(key)
      if (this.removedCursors.has(name)) continue
      const pos = decodeSeq(value)
      this.cursorPos.set(name, Math.max(pos, this.cursorPos.get(name) ?? pos))
    }
  }

  private encodeState(s: LogState): Buffer {
    return Buffer.from(
      JSON.stringify({
        v: STATE_VERSION,
        firstSeq: s.firstSeq,
        firstOffset: s.firstOffset,
        counters: s.counters,
      }),
    )
  }

  private startTimers(): void {
    if (this.durability === 'batch') {
      const t = setInterval(() => {
        if (this.unsynced && !this.closing) {
          this.syncRequested = true
          this.kick()
        }
      }, this.opts.syncIntervalMs)
      t.unref()
      this.timers.push(t)
    }
    if (this.opts.maxAgeSec !== undefined) {
      const every = Math.max(100, Math.min(60_000, (this.opts.maxAgeSec * 1000) / 4))
      const t = setInterval(() => {
        this.expiryRequested = true
        this.kick()
      }, every)
      t.unref()
      this.timers.push(t)
    }
  }

  // ---------------------------------------------------------------- helpers

  private decode(key: Buffer, value: Buffer): StoredRecord {
    const seq = seqFromRecordKey(key)
    try {
      return decodeRecord(seq, value, key.length)
    } catch (err) {
      if (err instanceof RecordDecodeError) {
        throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', err.message, { cause: err })
      }
      throw err
    }
  }

  private async getRecordValue(seq: number): Promise<Buffer | undefined> {
    await this.whenOpen()
    return this.db.get(recordKey(seq))
  }

  private async whenOpen(): Promise<void> {
    if (this.closed) throw this.closedError()
    if (this.recovery) await this.recovery
    if (this.closed || this.db.status !== 'open') throw this.closedError()
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError()
  }

  private fullError(reason: FullReason, n: number): OutboxError {
    const what =
      reason === 'disk'
        ? `free disk space is below minFreeDiskBytes (${this.opts.minFreeDiskBytes})`
        : reason === 'bytes'
          ? `maxBytes (${this.opts.maxBytes}) reached`
          : `maxMessages (${this.opts.maxMessages}) reached`
    return new OutboxError('OUTPOST_OUTBOX_FULL', `outbox full: ${what}; ${n} record(s) refused`, { reason })
  }

  private closedError(): OutboxError {
    return new OutboxError('OUTPOST_OUTBOX_CLOSED', 'the outbox is closed')
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0
  try {
    for (const name of await readdir(dir)) {
      total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size
    }
  } catch {
    return 0
  }
  return total
}
