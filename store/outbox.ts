// The outbox: an append-only log of readings in LevelDB, with one durable cursor per upstream. This
// class is the public API and the lifecycle; the work is done by its parts:
//
//   group-commit.ts   the one write loop: appends that arrive during a write share the next batch
//   herd.ts           …and one-message-at-a-time devices share an fsync
//   log-writer.ts     one batch: retention, expiry, appends in segments, evictions, cursors, state
//   limits.ts         maxBytes / maxMessages / free disk / maxAgeSec, and what drop-oldest evicts
//   segment-reader.ts reads of the segments (segment.ts: their layout; record-codec.ts: a record's)
//   load-log.ts       what opening reads (a handful of reads, whatever the backlog)
//   health.ts         a failed write or a damaged file: refuse, repair, recover (recovery.ts: reopen
//                     with backoff, waiting out a full disk; damage.ts: what was found)
//   outbox-db.ts      the LevelDB handle, reads gated around a reopen
//   cursor-table.ts   cursor positions and who waits for them to be written
//   lifecycle.ts      open → recovering (after a failed write) → open … → closing → closed
import { join } from 'node:path'
import { AppendWaiters } from './append-waiters.js'
import { Compactor } from './compactor.js'
import { CursorTable } from './cursor-table.js'
import { Damage } from './damage.js'
import { DeadLetterTable } from './dead-letter-table.js'
import { DeadLetters } from './dead-letters.js'
import { DiskGuard } from './disk-guard.js'
import { OutboxError } from './errors.js'
import {
  type AppendCallback,
  GroupCommit,
  type PendingAppend,
  pendingAppend,
  settle,
} from './group-commit.js'
import { Health } from './health.js'
import { startHousekeeping } from './housekeeping.js'
import { Lifecycle } from './lifecycle.js'
import { Limits } from './limits.js'
import { loadLog } from './load-log.js'
import { type Durability, defaultBatchWriter, LogWriter } from './log-writer.js'
import { makeDir } from './make-dir.js'
import { closedError, OutboxDb } from './outbox-db.js'
import {
  type OutboxLogger,
  type OutboxOptions,
  type ReadOptions,
  resolveOutboxOptions,
} from './outbox-options.js'
import { dirBytes, keepHigher, type OutboxCounters, zeroCounters } from './outbox-state.js'
import { cursorStats, type OutboxStats } from './outbox-stats.js'
import type { OutboxRecord, StoredRecord } from './record-codec.js'
import { SegmentReader } from './segment-reader.js'
import { syncLogFiles } from './sync-logs.js'

export type { AppendCallback } from './group-commit.js'
export type { WhenFull } from './limits.js'
export type { BatchWriter, Durability, OutboxBatch } from './log-writer.js'
export type { LevelDbOptions, OutboxLogger, OutboxOptions, ReadOptions } from './outbox-options.js'
export { OUTBOX_DEFAULTS } from './outbox-options.js'
export type { OutboxCounters } from './outbox-state.js'
export type { CursorStats, OutboxStats } from './outbox-stats.js'

export class Outbox {
  readonly dir: string
  readonly durability: Durability
  private readonly life = new Lifecycle()
  private readonly log: OutboxLogger
  private readonly now: () => number
  private readonly disk: DiskGuard
  private readonly db: OutboxDb
  private readonly damage: Damage
  private readonly reader: SegmentReader
  private readonly cursors = new CursorTable()
  private readonly counters: OutboxCounters = zeroCounters()
  private readonly deadLetterTable: DeadLetterTable
  /** Records an upstream will never take, moved out of its way (dead-letters.ts). */
  readonly deadLetters: DeadLetters
  private readonly limits: Limits
  private readonly writer: LogWriter
  private readonly commits: GroupCommit
  private readonly appendWaiters = new AppendWaiters()
  private readonly syncIntervalMs: number
  private readonly compactor: Compactor
  private readonly health: Health
  private timers: NodeJS.Timeout[] = []
  private closed: Promise<void> | undefined

  private constructor(given: OutboxOptions) {
    const options = resolveOutboxOptions(given)
    this.dir = options.dir
    this.durability = options.durability
    this.log = options.logger
    this.now = options.now
    this.syncIntervalMs = options.syncIntervalMs
    const { minFreeDiskBytes: minFreeBytes, reserveBytes } = options
    this.disk = new DiskGuard({ dir: options.dir, minFreeBytes, reserveBytes })
    this.damage = new Damage(this.log)
    this.reader = new SegmentReader((first, last, why) => {
      this.counters.lostCorrupt += this.damage.unreadable(first, last, why)
    })
    this.db = new OutboxDb(options.dir, options.leveldb, (err) => this.health.readFailed(err))
    this.compactor = new Compactor({
      db: this.db,
      afterBytes: options.compactAfterBytes,
      minIntervalMs: options.compactMinIntervalMs,
      now: this.now,
      firstSegment: () => this.writer.state.firstSegment,
      warn: (obj, msg) => this.log.warn(obj, msg),
    })
    this.limits = new Limits(
      {
        maxBytes: options.maxBytes,
        maxMessages: options.maxMessages,
        maxAgeSec: options.maxAgeSec,
        whenFull: options.whenFull,
        minFreeDiskBytes: options.minFreeDiskBytes,
      },
      this.disk,
      this.counters,
    )
    this.deadLetterTable = new DeadLetterTable(options.deadLetterMaxBytes)
    this.deadLetters = new DeadLetters({
      table: this.deadLetterTable,
      read: (fn) => this.db.read(fn),
      append: (records, from) =>
        new Promise((resolve, reject) => {
          this.enqueue(records, (err, first) => (err ? reject(err) : resolve(first)), from)
        }),
      refusal: () => this.life.refusal(),
      kick: () => this.commits.kick(),
      now: this.now,
    })
    this.writer = new LogWriter({
      durability: this.durability,
      db: () => this.db.db,
      reader: this.reader,
      limits: this.limits,
      cursors: this.cursors,
      deadLetters: this.deadLetterTable,
      counters: this.counters,
      disk: this.disk,
      now: this.now,
      writeBatch: options.writeBatch ?? defaultBatchWriter,
      syncLogs: () => syncLogFiles(join(this.dir, 'outbox')),
      onDeleted: (bytes) => this.compactor.deleted(bytes),
      onAppended: () => this.appendWaiters.appended(this.writer.state.lastSeq),
      onLost: (first, last, count) => this.damage.missing(first, last, count),
      onReadFailed: (err) => this.health.readFailed(err),
    })
    this.health = new Health({
      dir: this.dir,
      db: this.db,
      disk: this.disk,
      log: this.log,
      life: this.life,
      damage: this.damage,
      counters: this.counters,
      load: () => this.loadState(),
      refuseAll: (taken, err) => this.commits.fail([...taken, ...this.commits.takeAll()], err),
      kick: () => this.commits.kick(),
      lastSeq: () => this.lastSeq,
    })
    this.commits = new GroupCommit(
      {
        writable: () => this.writable(),
        hasOtherWork: () => this.writer.hasOtherWork(),
        write: (taken) => this.writer.write(taken),
        failed: (err, taken) => this.health.writeFailed(err, taken),
      },
      this.durability === 'fsync' ? options.commitDelayMs : 0,
    )
  }

  /** Opens (or creates) the outbox in `options.dir`. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(options)
    await makeDir(options.dir)
    await outbox.health.open()
    await outbox.disk.refresh()
    await outbox.disk.ensureReserve().catch((err: unknown) => {
      outbox.log.warn({ err }, 'could not create the disk reserve file')
    })
    outbox.timers = startHousekeeping({
      durability: outbox.durability,
      syncIntervalMs: outbox.syncIntervalMs,
      maxAgeSec: outbox.limits.maxAgeSec,
      syncDue: () => outbox.writer.unsynced && outbox.life.phase === 'open',
      requestSync: () => outbox.writer.requestSync(),
      requestExpiry: () => outbox.writer.requestExpiry(),
      kick: () => outbox.commits.kick(),
    })
    return outbox
  }

  get firstSeq(): number {
    return this.writer.state.firstSeq
  }

  get lastSeq(): number {
    return this.writer.state.lastSeq
  }

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

  private enqueue(records: readonly OutboxRecord[], done: AppendCallback, requeuedFrom?: Buffer[]): void {
    // A closed or recovering outbox refuses appends at once.
    const refusal = this.life.refusal()
    if (refusal !== undefined) {
      if (refusal.code !== 'OUTPOST_OUTBOX_CLOSED') this.counters.writeFailed += records.length
      done(refusal, 0)
      return
    }
    if (records.length === 0) {
      done(null, this.lastSeq + 1)
      return
    }
    let p: PendingAppend
    try {
      p = pendingAppend(records, done)
    } catch (err) {
      this.counters.rejectedBytes += records.length
      done(new OutboxError('OUTPOST_OUTBOX_RECORD_TOO_LARGE', (err as Error).message, { cause: err }), 0)
      return
    }
    if (requeuedFrom) p.requeuedFrom = requeuedFrom
    this.commits.add(p)
  }

  /** Records after sequence number `after`, in order. Always returns at least one record if any exists. */
  read(after: number, options: ReadOptions = {}): Promise<StoredRecord[]> {
    const limits = { maxRecords: options.maxRecords ?? 512, maxBytes: options.maxBytes ?? 2 ** 20 }
    return this.db.read((db) => {
      const start = Math.max(after + 1, this.firstSeq)
      const last = this.lastSeq
      if (start > last) return Promise.resolve([])
      return this.reader.page(db, start, last, limits)
    })
  }

  /** Resolves once a record after `after` exists (or the signal aborts, or the outbox closes). */
  waitForAppend(after: number, signal?: AbortSignal): Promise<void> {
    if (this.lastSeq > after || this.life.phase === 'closing' || this.life.phase === 'closed') {
      return Promise.resolve()
    }
    return this.appendWaiters.wait(after, signal)
  }

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
    const start = this.firstSeq - 1
    this.cursors.create(name, start)
    this.commits.kick()
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
    const to = Math.min(seq, this.lastSeq)
    if (this.cursors.advance(name, to)) this.commits.kick()
    return this.cursors.whenPersisted(name, to)
  }

  /** Removes a cursor (its upstream left the config); its backlog is counted as dropped. Returns that count. */
  removeCursor(name: string): number {
    this.assertOpen()
    const pos = this.cursors.remove(name)
    if (pos === undefined) return 0
    const backlog = Math.max(0, this.lastSeq - Math.max(pos, this.firstSeq - 1))
    this.counters.upstreamRemoved += backlog
    this.commits.kick()
    return backlog
  }

  async stats(): Promise<OutboxStats> {
    const s = this.writer.state
    const now = this.now()
    const cursors =
      this.life.phase !== 'closed' && this.db.isOpen
        ? await cursorStats(this.cursors.entries(), s, now, (seq) =>
            this.db.read((db) => this.reader.recordBytes(db, seq)),
          )
        : []
    await this.disk.refresh(now)
    return {
      state: this.life.phase === 'closed' ? 'closed' : this.life.failed ? 'recovering' : 'ok',
      durability: this.durability,
      firstSeq: s.firstSeq,
      lastSeq: s.lastSeq,
      messages: s.lastSeq - s.firstSeq + 1,
      bytes: s.endOffset - s.firstOffset,
      appended: s.lastSeq,
      maxBytes: this.limits.maxBytes,
      maxMessages: this.limits.maxMessages,
      diskBytes: await dirBytes(join(this.dir, 'outbox')),
      diskFreeBytes: this.disk.free,
      cursors,
      counters: { ...this.counters },
      writes: { ...this.writer.writes },
      deadLetters: this.deadLetters.stats(),
      damage: this.damage.stats(),
    }
  }

  /** Resolves when everything handed to the outbox so far has been written. */
  flush(): Promise<void> {
    return this.commits.flush()
  }

  /** Compacts the range of deleted records now (LevelDB does not give the space back by itself). */
  compact(): Promise<void> {
    return this.compactor.compact()
  }

  /** Writes what is pending (appends already accepted, cursor moves), then closes. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.doClose()
    return this.closed
  }

  private async doClose(): Promise<void> {
    const healthy = this.life.close()
    for (const t of this.timers) clearInterval(t)
    this.commits.hurry()
    const compacting = this.compactor.stop()
    if (healthy) await this.commits.flush()
    await this.health.stop()
    // A recovery that reopened the database just now leaves pending cursor moves to write.
    if (this.writable()) await this.commits.flush()
    await compacting
    // batch/none durability: what was acknowledged becomes durable before the process goes.
    const syncState = this.writable() && this.writer.unsynced
    this.life.seal() // no write starts from here on (a late cursor move must not race db.close())
    await this.commits.idle()
    const err = closedError()
    for (const p of this.commits.takeAll()) settle(p, err)
    this.appendWaiters.releaseAll()
    this.cursors.releaseAll()
    this.deadLetterTable.failAll(err)
    try {
      if (syncState) await this.writer.syncState()
      await this.db.close()
    } finally {
      this.life.closed()
      this.commits.releaseIdle()
    }
  }

  private writable(): boolean {
    return this.life.writable && this.db.isOpen
  }

  private assertOpen(): void {
    if (this.life.phase === 'closed') throw closedError()
  }

  /** Reads the state, the last segment and the cursors: a handful of reads, whatever the backlog. */
  private async loadState(): Promise<void> {
    const loaded = await loadLog(this.db.db, this.reader, (what, details) => this.damage.found(what, details))
    // A write reported as failed can be on disk after all (LevelDB replays its log on reopen).
    const replayed = this.life.phase === 'recovering' ? loaded.state.lastSeq - this.writer.state.lastSeq : 0
    this.writer.load(loaded.state, loaded.counters, loaded.dead)
    keepHigher(this.counters, loaded.counters) // after a recovery: counts made since the last write stay
    for (const [name, position] of loaded.cursors) this.cursors.loaded(name, position)
    if (replayed > 0) {
      this.counters.writeFailed = Math.max(0, this.counters.writeFailed - replayed)
      this.log.warn({ replayed }, 'a write reported as failed was on disk after all: its records are kept')
    }
  }
}
