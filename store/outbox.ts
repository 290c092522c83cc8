// The outbox: an append-only log of readings in LevelDB, with one durable cursor per upstream.
//
// Writes all go through one writer loop (group commit): appends that arrive while a write is in
// progress join the next batch, and a lone appender is written at once (at the end of the current
// tick, so the packets of one socket read share a batch). Each batch is one chained LevelDB batch and,
// in fsync mode, one fsync. Cursor moves, retention deletes, evictions and the outbox state ride in
// the same batches, so every crash leaves a consistent prefix of them.
//
// Records are stored a segment at a time (segment.ts): the records of a batch share LevelDB entries of
// up to 256 records. Removing records (retention, eviction, expiry) moves `firstSeq`; a segment is
// deleted once every record in it is below `firstSeq`.
//
// Byte accounting without scans: every record stores `offset`, the number of log bytes appended before
// it. The bytes held by records [a, b] are offset(b) + size(b) - offset(a), so retention and eviction
// need one point read, never a scan, and opening needs one reverse seek: start-up time does not grow
// with the backlog.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { CursorTable } from './cursor-table.js'
import { DiskGuard } from './disk-guard.js'
import { type FullReason, isNoSpace, OutboxError } from './errors.js'
import {
  CURSORS_END,
  CURSORS_START,
  cursorKey,
  cursorNameFromKey,
  decodeSeq,
  encodeSeq,
  RECORDS_END,
  RECORDS_START,
  STATE_KEY,
} from './keys.js'
import {
  addCounters,
  decodeState,
  dirBytes,
  encodeState,
  type LogState,
  type OutboxCounters,
  zeroCounters,
} from './outbox-state.js'
import { ReadGate } from './read-gate.js'
import {
  decodeRecord,
  type OutboxRecord,
  RecordDecodeError,
  readRecordOffset,
  readRecordTs,
  recordLength,
  type StoredRecord,
  writeRecord,
} from './record-codec.js'
import {
  locateRecord,
  parseSegmentKey,
  RECORD_OVERHEAD,
  SEGMENT_FORMAT,
  SEGMENT_MAX_BYTES,
  SEGMENT_MAX_RECORDS,
  seekKey,
  segmentKey,
  walkSegment,
} from './segment.js'

export type { OutboxCounters } from './outbox-state.js'
export type Durability = 'fsync' | 'batch' | 'none'
export type WhenFull = 'reject' | 'drop-oldest'

export interface OutboxLogger {
  debug(obj: object, msg: string): void
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

const silentLogger: OutboxLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** A LevelDB chained batch of the outbox's database. */
export type OutboxBatch = ReturnType<ClassicLevel<Buffer, Buffer>['batch']>

/**
 * Writes one batch to LevelDB. Every write of the outbox goes through it, so a test can see what is
 * written and whether it is fsync'd (the default is `batch.write(options)`).
 */
export type BatchWriter = (batch: OutboxBatch, options: { sync: boolean }) => Promise<void>

const defaultWriter: BatchWriter = (batch, options) => batch.write(options)

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
  /** The LevelDB batch write (a seam for tests). */
  writeBatch?: BatchWriter
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
  /** Batches written to LevelDB since open, and how many of them were fsync'd. */
  writes: { batches: number; synced: number }
}

/** Called once an append is committed (with the first record's sequence number) or refused. */
export type AppendCallback = (err: OutboxError | null, firstSeq: number) => void

interface PendingAppend {
  records: readonly OutboxRecord[]
  /** recordLength of each record. */
  lengths: number[]
  /** Log bytes of all of them (lengths plus their length prefixes). */
  bytes: number
  /** Sequence number of the first record, once the writer placed it. */
  first: number
  settled: boolean
  done: AppendCallback
}

/** A segment being built by the writer. */
interface SegmentDraft {
  first: number
  records: OutboxRecord[]
  lengths: number[]
  offsets: number[]
  bytes: number
}

/** A segment read from the database. */
interface Segment {
  key: Buffer
  firstSeq: number
  count: number
  value: Buffer
}

const EVICT = Symbol('evict')
const MAX_BATCH_RECORDS = 8192
const MAX_BATCH_BYTES = 8 * 2 ** 20
/** Expiry looks at this many records a pass (a pass runs again at once if they all expired). */
const EXPIRY_CHUNK = 100_000
/**
 * Herding (see expectHerd): after an fsync'd batch of 2..HERD_MAX_APPENDERS appends is acknowledged, the
 * next write waits up to HERD_WINDOW_MS for that many new appends, so devices that publish one message
 * at a time share one fsync instead of splitting into groups that each wait for the other's.
 */
const HERD_MAX_APPENDERS = 64
const HERD_WINDOW_MS = 0.4

export class Outbox {
  readonly dir: string
  readonly durability: Durability
  private readonly opts: Required<
    Omit<OutboxOptions, 'maxMessages' | 'maxAgeSec' | 'logger' | 'now' | 'writeBatch'>
  > &
    Pick<OutboxOptions, 'maxMessages' | 'maxAgeSec'>
  private readonly log: OutboxLogger
  private readonly now: () => number
  private readonly writeBatch: BatchWriter
  private readonly disk: DiskGuard
  private db: ClassicLevel<Buffer, Buffer>
  private state: LogState = { firstSeq: 1, lastSeq: 0, firstSegment: 1, firstOffset: 0, endOffset: 0 }
  /** The last segment read (segments never change once written, so it stays valid). */
  private lastSegment: Segment | undefined
  /** Live counters (what stats() shows); written with the next batch whenever they change. */
  private readonly counters: OutboxCounters = zeroCounters()
  private readonly writes = { batches: 0, synced: 0 }
  /** What STATE_KEY holds on disk, to know when it must be written again. */
  private persisted = ''

  private pending: PendingAppend[] = []
  private readonly cursors = new CursorTable()
  private readonly reads = new ReadGate()
  private syncRequested = false
  private unsynced = false
  private expiryRequested = false

  private writing = false
  /** Appends still expected from the last acknowledged batch's appenders, and until when (ms). */
  private herd: { expect: number; until: number } | undefined
  private herdWake: (() => void) | undefined
  /** The last batch written will start a herd when its appenders are told. */
  private herdAfterWrite = false
  private kickScheduled = false
  private idleWaiters: Array<() => void> = []
  private appendWaiters = new Set<{ after: number; resolve: () => void }>()

  private closing = false
  private closed = false
  private broken: OutboxError | undefined
  private recovery: Promise<void> | undefined
  private readonly recoveryAbort = new AbortController()
  private compaction: Promise<void> | undefined
  private deletedSinceCompact = 0
  private lastCompact = 0
  private readonly timers: NodeJS.Timeout[] = []

  private constructor(options: OutboxOptions) {
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
    this.writeBatch = options.writeBatch ?? defaultWriter
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

  // ---------------------------------------------------------------- appends

  /**
   * Appends records in order; resolves with the sequence number of the first one (the rest follow
   * contiguously) once they are committed at the configured durability. Rejects with an OutboxError:
   * OUTPOST_OUTBOX_FULL (under whenFull: reject), OUTPOST_OUTBOX_NO_SPACE or _WRITE_FAILED (nothing of
   * this append was stored), _RECORD_TOO_LARGE, _CLOSED.
   */
  append(records: readonly OutboxRecord[]): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.enqueue(records, (err, first) => (err ? reject(err) : resolve(first)))
    })
  }

  /**
   * The same as append([record]) with a callback instead of a promise: the broker's hot path calls this
   * for every message, and a promise with its `.then` costs measurable time there.
   */
  appendOne(record: OutboxRecord, done: AppendCallback): void {
    this.enqueue([record], done)
  }

  private enqueue(records: readonly OutboxRecord[], done: AppendCallback): void {
    const refusal = this.refuseEarly(records)
    if (refusal !== undefined) {
      done(refusal, 0)
      return
    }
    if (records.length === 0) {
      done(null, this.state.lastSeq + 1)
      return
    }
    const lengths: number[] = new Array(records.length)
    let bytes = 0
    try {
      for (let i = 0; i < records.length; i++) {
        const length = recordLength(records[i] as OutboxRecord)
        lengths[i] = length
        bytes += RECORD_OVERHEAD + length
      }
    } catch (err) {
      this.counters.rejectedBytes += records.length
      done(new OutboxError('OUTPOST_OUTBOX_RECORD_TOO_LARGE', (err as Error).message, { cause: err }), 0)
      return
    }
    this.pending.push({ records, lengths, bytes, first: 0, settled: false, done })
    if (this.herd !== undefined && --this.herd.expect <= 0) this.endHerd()
    this.kick()
  }

  /** A closed or recovering outbox refuses appends at once. */
  private refuseEarly(records: readonly OutboxRecord[]): OutboxError | undefined {
    if (this.closing) return this.closedError()
    if (this.broken) {
      this.counters.writeFailed += records.length
      return this.broken
    }
    return undefined
  }

  // ---------------------------------------------------------------- reads

  /** Records after sequence number `after`, in order. Always returns at least one record if any exists. */
  async read(after: number, options: ReadOptions = {}): Promise<StoredRecord[]> {
    const maxRecords = options.maxRecords ?? 512
    const maxBytes = options.maxBytes ?? 2 ** 20
    return this.reading(async (db) => {
      const start = Math.max(after + 1, this.state.firstSeq)
      const last = this.state.lastSeq
      if (start > last) return []
      const out: StoredRecord[] = []
      let bytes = 0
      // No segment holds `start` only if records went missing: go on with the next one rather than
      // report an empty log (a forwarder would wait for ever).
      let segment = (await this.segmentHolding(db, start)) ?? (await this.segmentAfter(db, seekKey(start)))
      let it: { next(): Promise<[Buffer, Buffer] | undefined>; close(): Promise<void> } | undefined
      try {
        while (segment) {
          for (const [i, from, length] of walkSegment(segment.value)) {
            const seq = segment.firstSeq + i
            if (seq < start) continue
            if (seq > last) return out
            const record = this.decode(seq, segment.value.subarray(from, from + length))
            if (out.length > 0 && bytes + record.size > maxBytes) return out
            out.push(record)
            bytes += record.size
            if (out.length >= maxRecords) return out
          }
          // The next segment: one forward iterator for the rest of this read.
          it ??= db.iterator({ gt: segment.key, lt: RECORDS_END })
          const next = await it.next()
          segment = next ? this.toSegment(next[0], next[1]) : undefined
        }
      } finally {
        await it?.close()
      }
      return out
    })
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
    return this.cursors.names()
  }

  /**
   * Returns the cursor's position, creating it if needed. A new cursor starts before the oldest record
   * still kept, so an upstream added later receives everything buffered so far.
   */
  cursor(name: string): number {
    this.assertOpen()
    const pos = this.cursors.get(name)
    if (pos !== undefined) return pos
    const start = this.state.firstSeq - 1
    this.cursors.create(name, start)
    this.kick()
    return start
  }

  /**
   * Moves a cursor forward to `seq` (the last record this upstream is done with). Written with the next
   * batch (without fsync: a process crash keeps it, a power cut may cost some duplicates); records below
   * every cursor are then deleted. Moving backwards is ignored. Resolves once the position is written
   * (or the outbox closes), so a forwarder can bound what a crash would make it resend.
   */
  commit(name: string, seq: number): Promise<void> {
    this.assertOpen()
    const to = Math.min(seq, this.state.lastSeq)
    if (this.cursors.advance(name, to)) this.kick()
    return this.cursors.whenPersisted(name, to)
  }

  /** Removes a cursor (its upstream left the config); its backlog is counted as dropped. Returns that count. */
  removeCursor(name: string): number {
    this.assertOpen()
    const pos = this.cursors.remove(name)
    if (pos === undefined) return 0
    const backlog = Math.max(0, this.state.lastSeq - Math.max(pos, this.state.firstSeq - 1))
    this.counters.upstreamRemoved += backlog
    this.kick()
    return backlog
  }

  // ---------------------------------------------------------------- stats

  async stats(): Promise<OutboxStats> {
    const s = this.state
    const cursors: CursorStats[] = []
    const now = this.now()
    if (!this.closed && this.db.status === 'open') {
      for (const [name, position] of this.cursors.entries()) {
        const start = Math.max(position + 1, s.firstSeq)
        if (start > s.lastSeq) {
          cursors.push({ name, position, backlogMessages: 0, backlogBytes: 0, oldestAgeMs: 0 })
          continue
        }
        const value = await this.recordBytes(start)
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
      counters: { ...this.counters },
      writes: { ...this.writes },
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
    const end = segmentKey(this.state.firstSegment, 0)
    this.lastCompact = this.now()
    this.deletedSinceCompact = 0
    this.compaction = this.reading((db) => db.compactRange(RECORDS_START, end))
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
    this.recoveryAbort.abort()
    if (this.recovery) await this.recovery.catch(() => undefined)
    if (this.compaction) await this.compaction
    const err = this.closedError()
    for (const p of this.pending.splice(0)) settle(p, err)
    for (const w of this.appendWaiters) w.resolve()
    this.appendWaiters.clear()
    this.cursors.releaseAll()
    try {
      if (this.db.status === 'open') {
        if (this.unsynced && !this.broken) {
          // batch/none durability: make what was acknowledged durable before the process goes.
          const b = this.db.batch()
          b.put(STATE_KEY, Buffer.from(this.stateText(this.state)))
          await this.writeBatch(b, { sync: true })
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
      this.cursors.hasChanges ||
      this.syncRequested ||
      this.expiryRequested ||
      this.retentionTarget() >= this.state.firstSeq ||
      this.stateText(this.state) !== this.persisted
    )
  }

  private async runWriter(): Promise<void> {
    if (this.writing || this.closed) return
    this.writing = true
    // The appenders of a written batch are told (PUBACKs, local delivery: real work) only once the next
    // batch is on its way to LevelDB, so the disk never waits for that work (measured: 0.3 ms between
    // writes at 140 records a batch, a fifth of the cycle, went to it).
    let settle: (() => void) | undefined
    try {
      while (!this.broken && this.db.status === 'open' && this.hasWork()) {
        if (this.herdPending()) {
          settle?.()
          settle = undefined
          await this.awaitHerd()
          continue
        }
        const taken = this.takePending()
        const writing = this.writeOnce(taken) // runs up to its write (submitted) before it yields
        settle?.()
        settle = undefined
        try {
          settle = await writing
          // Appenders that will answer at once: tell them now, and let the next write wait for them.
          if (this.herdAfterWrite) {
            settle()
            settle = undefined
          }
        } catch (err) {
          // A read the batch needed failed, or the write itself: nothing of it was adopted.
          this.onWriteFailed(err, taken)
        }
      }
    } finally {
      settle?.()
      this.writing = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  /** Highest sequence number every cursor is done with (-1 when there are no cursors: keep everything). */
  private retentionTarget(): number {
    const min = this.cursors.min()
    return min === undefined ? -1 : Math.min(min, this.state.lastSeq)
  }

  /**
   * One batch: retention, expiry, the appends `taken` (each checked against the limits), cursors, state.
   * Resolves, once written and adopted, with the function that tells the appenders.
   */
  private async writeOnce(taken: PendingAppend[]): Promise<() => void> {
    const s: LogState = { ...this.state }
    const delta = { evicted: 0, expired: 0 }
    const batch = this.db.batch()
    let ops = 0
    let deleted = 0

    // 1. Retention: drop records below every cursor.
    const target = this.retentionTarget()
    if (target >= s.firstSeq) deleted += await this.deleteBelow(target + 1, s, batch)

    // 2. Expiry (maxAgeSec): drop old records from the bottom.
    if (this.expiryRequested && this.opts.maxAgeSec !== undefined) {
      this.expiryRequested = false
      const n = await this.countExpired(s.firstSeq, s.lastSeq, this.now() - this.opts.maxAgeSec * 1000)
      if (n > 0) {
        deleted += await this.deleteBelow(s.firstSeq + n, s, batch)
        delta.expired += n
        if (n === EXPIRY_CHUNK) this.expiryRequested = true
      }
    }

    // 3. Appends, in arrival order, packed into segments. The limit check is synchronous; only an
    // eviction reads.
    const accepted: PendingAppend[] = []
    const batchOffsets: number[] = [] // this batch's offsets, by seq - (this.state.lastSeq + 1)
    let draft: SegmentDraft | undefined
    for (const p of taken) {
      let refusal = this.check(p, s)
      if (refusal === EVICT) refusal = await this.evictFor(p, s, batchOffsets, batch, delta)
      if (refusal !== undefined) {
        settle(p, refusal)
        continue
      }
      p.first = s.lastSeq + 1
      for (let i = 0; i < p.records.length; i++) {
        const length = p.lengths[i] as number
        const size = RECORD_OVERHEAD + length
        s.lastSeq++
        if (
          draft === undefined ||
          draft.records.length >= SEGMENT_MAX_RECORDS ||
          (draft.bytes + size > SEGMENT_MAX_BYTES && draft.records.length > 0)
        ) {
          if (draft) putSegment(batch, draft)
          draft = { first: s.lastSeq, records: [], lengths: [], offsets: [], bytes: 0 }
        }
        draft.records.push(p.records[i] as OutboxRecord)
        draft.lengths.push(length)
        draft.offsets.push(s.endOffset)
        draft.bytes += size
        batchOffsets.push(s.endOffset)
        s.endOffset += size
      }
      ops += p.records.length
      accepted.push(p)
    }
    if (draft) putSegment(batch, draft)

    // 4. Cursors, then the state whenever it differs from what the disk holds.
    const cursorChanges = this.cursors.changes()
    for (const [name, pos] of cursorChanges.writes) batch.put(cursorKey(name), encodeSeq(pos))
    for (const name of cursorChanges.removes) batch.del(cursorKey(name))
    ops += cursorChanges.writes.length + cursorChanges.removes.length
    const counters = addCounters(this.counters, delta)
    const stateText = this.stateText(s, counters)
    if (stateText !== this.persisted || ops === 0) batch.put(STATE_KEY, Buffer.from(stateText))
    const syncNow = this.syncRequested || (this.durability === 'fsync' && accepted.length > 0)
    this.syncRequested = false

    await this.writeBatch(batch, { sync: syncNow })
    this.writes.batches++
    if (syncNow) this.writes.synced++

    // Adopt.
    this.state = s
    this.persisted = stateText
    this.counters.evicted += delta.evicted
    this.counters.expired += delta.expired
    this.cursors.written(cursorChanges)
    this.unsynced = !syncNow && (this.unsynced || accepted.length > 0)
    const herds = syncNow && accepted.length >= 2 && accepted.length <= HERD_MAX_APPENDERS
    this.herdAfterWrite = herds
    let written = 0
    for (const p of accepted) written += p.bytes
    this.disk.noteWritten(written, this.now())
    if (deleted > 0) this.noteDeleted(deleted)
    return () => {
      // Expected before they are told: an appender may answer inside its callback.
      if (herds) this.expectHerd(accepted.length)
      for (const p of accepted) settle(p, p.first)
      if (accepted.length > 0) this.notifyAppended()
    }
  }

  /**
   * Devices that publish one message at a time answer each PUBACK with their next message. Writing
   * the first of those at once splits them into two groups that alternate, each waiting for the other's
   * fsync as well as its own (measured with 10 such devices: batches of 1 and 9, PUBACK p50 0.87 ms).
   * So after acknowledging `appenders` appends from an fsync'd batch, the writer waits a moment
   * (HERD_WINDOW_MS at most) for as many new ones before it writes. Large batches are left alone: their
   * appenders come back over a longer time, and the disk should not sit idle meanwhile.
   */
  private expectHerd(appenders: number): void {
    if (this.closing) return
    const now = performance.now()
    const left = this.herd !== undefined && now < this.herd.until ? this.herd.expect : 0
    this.herd = { expect: left + appenders, until: now + HERD_WINDOW_MS }
  }

  private herdPending(): boolean {
    if (this.herd === undefined) return false
    if (this.closing || performance.now() >= this.herd.until) {
      this.herd = undefined
      return false
    }
    return true
  }

  private endHerd(): void {
    this.herd = undefined
    const wake = this.herdWake
    this.herdWake = undefined
    wake?.()
  }

  /** Resolves when the herd is in or its window is over (polled once per event-loop turn). */
  private awaitHerd(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.herdWake = resolve
      const poll = (): void => {
        if (this.herdWake !== resolve) return // woken by an append
        if (this.herdPending()) setImmediate(poll)
        else this.endHerd()
      }
      setImmediate(poll)
    })
  }

  /**
   * Drops records [s.firstSeq, newFirst): moves `s` and deletes (in `batch`) every segment now wholly
   * below it. Returns the log bytes freed.
   */
  private async deleteBelow(
    newFirst: number,
    s: LogState,
    batch: OutboxBatch,
    batchOffsets: number[] = [],
  ): Promise<number> {
    if (newFirst <= s.firstSeq) return 0
    const newFirstOffset = await this.offsetOf(newFirst, s, batchOffsets)
    const freed = newFirstOffset - s.firstOffset
    s.firstSeq = newFirst
    s.firstOffset = newFirstOffset
    // Segments wholly below: their keys are enough (first seq and count are in the key).
    const keys = this.db.keys({ gte: segmentKey(s.firstSegment, 0), lte: seekKey(newFirst - 1) })
    try {
      for await (const key of keys) {
        const { firstSeq, count } = parseSegmentKey(key)
        if (firstSeq + count > newFirst) break
        batch.del(key)
        s.firstSegment = firstSeq + count
      }
    } finally {
      await keys.close()
    }
    return freed
  }

  private takePending(): PendingAppend[] {
    let records = 0
    let bytes = 0
    let i = 0
    for (; i < this.pending.length; i++) {
      const p = this.pending[i] as PendingAppend
      if (i > 0 && (records + p.records.length > MAX_BATCH_RECORDS || bytes + p.bytes > MAX_BATCH_BYTES))
        break
      records += p.records.length
      bytes += p.bytes
    }
    return i === this.pending.length ? this.pending.splice(0) : this.pending.splice(0, i)
  }

  /**
   * Checks one append against the limits (synchronously: this runs for every append). Returns
   * undefined when it fits, the error to refuse it with, or EVICT when drop-oldest must make room.
   */
  private check(p: PendingAppend, s: LogState): OutboxError | typeof EVICT | undefined {
    const n = p.records.length
    const { maxBytes, maxMessages, whenFull } = this.opts
    if (p.bytes > maxBytes || (maxMessages !== undefined && n > maxMessages)) {
      this.counters.rejectedBytes += n
      return new OutboxError(
        'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
        `append of ${n} record(s), ${p.bytes} bytes, exceeds the outbox limits (maxBytes ${maxBytes})`,
      )
    }
    if (this.disk.wouldRunLow(p.bytes)) {
      this.counters.rejectedDisk += n
      return this.fullError('disk', n)
    }
    const overMessages = maxMessages !== undefined && s.lastSeq - s.firstSeq + 1 + n > maxMessages
    const overBytes = s.endOffset - s.firstOffset + p.bytes > maxBytes
    if (!overMessages && !overBytes) return undefined
    if (whenFull === 'drop-oldest') return EVICT
    if (overBytes) this.counters.rejectedBytes += n
    else this.counters.rejectedMessages += n
    return this.fullError(overBytes ? 'bytes' : 'messages', n)
  }

  /** drop-oldest: evicts (in `batch`, moving `s`) the fewest oldest records that make room for `p`. */
  private async evictFor(
    p: PendingAppend,
    s: LogState,
    batchOffsets: number[],
    batch: OutboxBatch,
    delta: { evicted: number },
  ): Promise<undefined> {
    const n = p.records.length
    const { maxBytes, maxMessages } = this.opts
    let k = s.firstSeq
    if (maxMessages !== undefined) k = Math.max(k, s.lastSeq + n - maxMessages + 1)
    if (s.endOffset - s.firstOffset + p.bytes > maxBytes) {
      k = Math.max(k, await this.firstSeqWithOffsetAtLeast(s.endOffset + p.bytes - maxBytes, s, batchOffsets))
    }
    delta.evicted += k - s.firstSeq
    this.deletedSinceCompact += await this.deleteBelow(k, s, batch, batchOffsets)
    return undefined
  }

  /** Offset of record `seq` (or the end offset for lastSeq + 1), in the working state `s`. */
  private async offsetOf(seq: number, s: LogState, batchOffsets: number[] = []): Promise<number> {
    if (seq > s.lastSeq) return s.endOffset
    if (seq <= s.firstSeq) return s.firstOffset
    const inBatch = seq - (this.state.lastSeq + 1)
    if (inBatch >= 0) return batchOffsets[inBatch] as number
    const bytes = await this.recordBytes(seq)
    if (!bytes) throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `record ${seq} is missing from the outbox`)
    return readRecordOffset(bytes)
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

  /** How many records from `firstSeq` on are older than `cutoff` (at most EXPIRY_CHUNK). */
  private async countExpired(firstSeq: number, lastSeq: number, cutoff: number): Promise<number> {
    if (firstSeq > lastSeq) return 0
    let n = 0
    let segment = await this.segmentHolding(this.db, firstSeq)
    const it = this.db.iterator({ gt: segment?.key ?? seekKey(firstSeq), lt: RECORDS_END })
    try {
      while (segment) {
        for (const [i, from] of walkSegment(segment.value)) {
          const seq = segment.firstSeq + i
          if (seq < firstSeq) continue
          if (seq > lastSeq || n >= EXPIRY_CHUNK || readRecordTs(segment.value.subarray(from)) >= cutoff)
            return n
          n++
        }
        const next = await it.next()
        segment = next ? this.toSegment(next[0], next[1]) : undefined
      }
      return n
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

  private onWriteFailed(err: unknown, taken: PendingAppend[]): void {
    const noSpace = isNoSpace(err)
    const known = err instanceof OutboxError
    const failure = known
      ? err
      : new OutboxError(
          noSpace ? 'OUTPOST_OUTBOX_NO_SPACE' : 'OUTPOST_OUTBOX_WRITE_FAILED',
          noSpace
            ? 'the disk is full: the append was not stored'
            : `outbox write failed: ${(err as Error).message}`,
          { cause: err },
        )
    // Nothing of the batch was adopted: the appends it took (and any queued behind it) fail; cursor
    // moves stay dirty and are written after recovery.
    for (const p of [...taken, ...this.pending.splice(0)]) {
      if (p.settled) continue
      this.counters.writeFailed += p.records.length
      settle(p, failure)
    }
    this.log.error({ err, code: failure.code }, 'outbox write failed; recovering')
    this.broken = failure
    this.recovery = this.recover(noSpace).finally(() => {
      this.recovery = undefined
    })
  }

  /**
   * LevelDB keeps a write error sticky until the database is reopened, so recovery is close + reopen,
   * retried with backoff. On a full disk the reserve is released first, and the database stays open
   * (readable: forwarders keep draining) until there is room to reopen it.
   */
  private async recover(noSpace: boolean): Promise<void> {
    const signal = this.recoveryAbort.signal
    let delay = 100
    const pause = async () => {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t)
            resolve()
          },
          { once: true },
        )
      })
      delay = Math.min(delay * 2, 5_000)
    }
    for (let attempt = 1; !signal.aborted; attempt++) {
      if (noSpace) {
        const freed = await this.disk.releaseReserve()
        if (freed > 0)
          this.log.warn({ freed }, 'disk full: released the reserve file so the outbox can recover')
        await this.disk.refresh()
        // Reopening replays the write-ahead log into a table file: it needs about the log's size.
        const need = (await dirBytes(join(this.dir, 'outbox'), '.log')) * 1.1 + 256 * 1024
        if (this.disk.free < need) {
          if (attempt === 1) {
            this.log.warn(
              { free: this.disk.free, need },
              'disk full: waiting for free space to reopen the outbox',
            )
          }
          await pause()
          continue
        }
      }
      const openGate = await this.reads.close()
      try {
        if (this.db.status === 'open' || this.db.status === 'opening') await this.db.close()
        this.db = this.newDb()
        await this.openDb()
        await this.loadState()
        await this.disk.refresh()
        openGate()
        this.broken = undefined
        this.log.info({ attempt, lastSeq: this.state.lastSeq }, 'outbox recovered')
        void this.disk.ensureReserve().catch(() => undefined)
        this.kick()
        return
      } catch (err) {
        openGate() // readers now fail fast (closed) instead of waiting behind the gate
        this.log.warn({ err, attempt }, 'outbox recovery failed; retrying')
        await pause()
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

  /** Reads the state, the last segment and the cursors: a handful of reads, whatever the backlog. */
  private async loadState(): Promise<void> {
    this.lastSegment = undefined
    const raw = await this.db.get(STATE_KEY)
    let persisted = { firstSeq: 1, firstOffset: 0, firstSegment: 1, counters: zeroCounters() }
    if (raw !== undefined) {
      try {
        persisted = decodeState(raw)
      } catch (err) {
        throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `outbox state in ${this.dir} is unreadable`, {
          cause: err,
        })
      }
    }
    const { firstSeq, firstOffset, firstSegment } = persisted
    let lastSeq = firstSeq - 1
    let endOffset = firstOffset
    const [entry] = await this.db
      .iterator({ gte: RECORDS_START, lt: RECORDS_END, reverse: true, limit: 1 })
      .all()
    if (entry) {
      const segment = this.toSegment(entry[0], entry[1])
      const lastOfSegment = segment.firstSeq + segment.count - 1
      const at = locateRecord(segment.value, segment.count - 1)
      if (!at) throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `segment at ${segment.firstSeq} is truncated`)
      if (lastOfSegment >= firstSeq) {
        const record = this.decode(lastOfSegment, segment.value.subarray(at.start, at.start + at.length))
        lastSeq = lastOfSegment
        endOffset = record.offset + record.size
      }
    }
    this.state = { firstSeq, lastSeq, firstSegment, firstOffset, endOffset }
    this.persisted = this.stateText(this.state, persisted.counters)
    // After a recovery, counts made in memory since the last write must not be lost.
    for (const k of Object.keys(this.counters) as Array<keyof OutboxCounters>) {
      this.counters[k] = Math.max(this.counters[k], persisted.counters[k])
    }

    for await (const [key, value] of this.db.iterator({ gte: CURSORS_START, lt: CURSORS_END })) {
      this.cursors.loaded(cursorNameFromKey(key), decodeSeq(value))
    }
  }

  /** The state value as it would be written (compared with `persisted` to know whether to write it). */
  private stateText(s: LogState, counters: OutboxCounters = this.counters): string {
    return encodeState({
      firstSeq: s.firstSeq,
      firstOffset: s.firstOffset,
      firstSegment: s.firstSegment,
      counters,
    }).toString('utf8')
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

  private decode(seq: number, bytes: Buffer): StoredRecord {
    try {
      return decodeRecord(seq, bytes, RECORD_OVERHEAD)
    } catch (err) {
      if (err instanceof RecordDecodeError) {
        throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', err.message, { cause: err })
      }
      throw err
    }
  }

  /** The stored bytes of record `seq` (a view into its segment), or undefined when it is gone. */
  private recordBytes(seq: number): Promise<Buffer | undefined> {
    return this.reading(async (db) => {
      const segment = await this.segmentHolding(db, seq)
      if (!segment) return undefined
      const at = locateRecord(segment.value, seq - segment.firstSeq)
      return at ? segment.value.subarray(at.start, at.start + at.length) : undefined
    })
  }

  /** The segment holding record `seq` (from the one-segment cache, or one reverse seek). */
  private async segmentHolding(db: ClassicLevel<Buffer, Buffer>, seq: number): Promise<Segment | undefined> {
    const cached = this.lastSegment
    if (cached && seq >= cached.firstSeq && seq < cached.firstSeq + cached.count) return cached
    const [entry] = await db
      .iterator({ gte: RECORDS_START, lte: seekKey(seq), reverse: true, limit: 1 })
      .all()
    if (!entry) return undefined
    const segment = this.toSegment(entry[0], entry[1])
    return seq < segment.firstSeq + segment.count ? segment : undefined
  }

  private async segmentAfter(db: ClassicLevel<Buffer, Buffer>, key: Buffer): Promise<Segment | undefined> {
    const [entry] = await db.iterator({ gt: key, lt: RECORDS_END, limit: 1 }).all()
    return entry ? this.toSegment(entry[0], entry[1]) : undefined
  }

  private toSegment(key: Buffer, value: Buffer): Segment {
    const { firstSeq, count } = parseSegmentKey(key)
    if (value[0] !== SEGMENT_FORMAT) {
      throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `segment at ${firstSeq}: unknown format ${value[0]}`)
    }
    const segment = { key, firstSeq, count, value }
    this.lastSegment = segment
    return segment
  }

  /** Runs a read; recovery holds reads back (ReadGate) around closing and reopening the database. */
  private reading<T>(fn: (db: ClassicLevel<Buffer, Buffer>) => Promise<T>): Promise<T> {
    return this.reads.run(() => {
      if (this.closed || this.db.status !== 'open') return Promise.reject(this.closedError())
      return fn(this.db)
    })
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

function settle(p: PendingAppend, result: number | OutboxError): void {
  if (p.settled) return
  p.settled = true
  if (typeof result === 'number') p.done(null, result)
  else p.done(result, 0)
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
