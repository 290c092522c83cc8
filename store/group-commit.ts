// Group commit: every write of the outbox goes through this one loop. Appends that arrive while a batch
// is being written join the next batch; a lone appender is written at once (at the end of the current
// tick, so the packets of one socket read share a batch). After an fsync'd batch of a few appends the
// loop waits a moment for its appenders' next messages (herd.ts).
//
// The appenders of a written batch are told (PUBACKs, local delivery: real work) only once the next
// batch is on its way to LevelDB, so the disk never waits for that work (measured: 0.3 ms between writes
// at 140 records a batch, a fifth of the cycle, went to it).

import { CommitDelay } from './commit-delay.js'
import type { OutboxError } from './errors.js'
import { Herd } from './herd.js'
import { type OutboxRecord, recordLength } from './record-codec.js'
import { RECORD_OVERHEAD } from './segment.js'

/** Called once an append is committed (with the first record's sequence number) or refused. */
export type AppendCallback = (err: OutboxError | null, firstSeq: number) => void

export interface PendingAppend {
  records: readonly OutboxRecord[]
  /** recordLength of each record. */
  lengths: number[]
  /** Log bytes of all of them (lengths plus their length prefixes). */
  bytes: number
  /** Sequence number of the first record, once the writer placed it. */
  first: number
  settled: boolean
  done: AppendCallback
  /** Dead letters these records are requeued from: deleted in the batch that takes the append. */
  requeuedFrom?: readonly Buffer[]
}

/** An append waiting for the writer (records measured now: throws RangeError past the codec's limits). */
export function pendingAppend(records: readonly OutboxRecord[], done: AppendCallback): PendingAppend {
  const lengths: number[] = new Array(records.length)
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const length = recordLength(records[i] as OutboxRecord)
    lengths[i] = length
    bytes += RECORD_OVERHEAD + length
  }
  return { records, lengths, bytes, first: 0, settled: false, done }
}

/** Tells an appender its outcome, once. */
export function settle(p: PendingAppend, result: number | OutboxError): void {
  if (p.settled) return
  p.settled = true
  if (typeof result === 'number') p.done(null, result)
  else p.done(result, 0)
}

/** A batch written and adopted: who to tell, and how many appenders to expect back (0: no herd). */
export interface Written {
  tell(): void
  herd: number
}

export interface CommitTarget {
  /** Writes may run now (the database is open and healthy). */
  writable(): boolean
  /** Something to write besides appends: cursor moves, retention, a sync, the state. */
  hasOtherWork(): boolean
  /**
   * Writes one batch holding `taken`. Runs up to its LevelDB write (submitted) before it first yields;
   * resolves once the batch is written and adopted.
   */
  write(taken: PendingAppend[]): Promise<Written>
  /** The batch holding `taken` failed: nothing of it was adopted. */
  failed(err: unknown, taken: PendingAppend[]): void
}

const MAX_BATCH_RECORDS = 8192
const MAX_BATCH_BYTES = 8 * 2 ** 20
/**
 * Under commitDelayMs, this many pending records go at once: they share their fsync well already, and
 * under load (1,000 device messages in flight) waiting out the delay only caps throughput at one batch
 * per delay — the appends that would join are those waiting for this batch's acknowledgements.
 */
const DELAY_ENOUGH_RECORDS = 256

export class GroupCommit {
  private pending: PendingAppend[] = []
  /** idle → scheduled (a microtask will start the loop) → writing (the loop runs) → idle. */
  private phase: 'idle' | 'scheduled' | 'writing' = 'idle'
  private readonly herd = new Herd()
  private readonly delay: CommitDelay
  private idleWaiters: Array<() => void> = []

  /** @param commitDelayMs appends wait up to this long to share a batch (commit-delay.ts); 0: none */
  constructor(
    private readonly target: CommitTarget,
    commitDelayMs = 0,
  ) {
    this.delay = new CommitDelay(commitDelayMs, DELAY_ENOUGH_RECORDS)
  }

  add(p: PendingAppend): void {
    this.pending.push(p)
    if (this.delay.enabled) this.delay.added(p.records.length, this.pending.length === 1)
    this.herd.arrived()
    this.kick()
  }

  /** Refuses `appends` (those not told yet) with `err`; returns how many records they held. */
  fail(appends: readonly PendingAppend[], err: OutboxError): number {
    let records = 0
    for (const p of appends) {
      if (p.settled) continue
      records += p.records.length
      settle(p, err)
    }
    return records
  }

  /** Takes every append not yet in a batch (to refuse them). */
  takeAll(): PendingAppend[] {
    this.delay.taken()
    return this.pending.splice(0)
  }

  /** Makes sure the loop runs soon (when there is anything to write). */
  kick(): void {
    if (this.phase !== 'idle' || !this.target.writable()) return
    this.phase = 'scheduled'
    queueMicrotask(() => {
      this.phase = 'idle'
      void this.run()
    })
  }

  /** Resolves when everything handed over so far is written (or writes cannot run). */
  async flush(): Promise<void> {
    await this.delay.hurry(async () => {
      this.kick()
      while (this.phase !== 'idle' || this.hasWork()) {
        if (!this.target.writable()) return
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
      }
    })
  }

  /** Resolves once no write is in progress (whatever is still pending). */
  async idle(): Promise<void> {
    while (this.phase !== 'idle') await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  /** No more waits of any kind (closing: the last writes go out at once). */
  hurry(): void {
    this.herd.stop()
    void this.delay.hurry()
  }

  /** Releases everyone waiting in flush() (the outbox is closed). */
  releaseIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w()
  }

  private hasWork(): boolean {
    return this.pending.length > 0 || this.target.hasOtherWork()
  }

  private async run(): Promise<void> {
    if (this.phase === 'writing') return
    this.phase = 'writing'
    let tell: (() => void) | undefined
    try {
      while (this.target.writable() && this.hasWork()) {
        if (this.herd.pending) {
          tell?.()
          tell = undefined
          await this.herd.wait()
          continue
        }
        let taken: PendingAppend[] = []
        const hold = this.delay.holdMs()
        if (hold > 0 && !this.target.hasOtherWork()) {
          tell?.()
          tell = undefined
          await this.delay.wait(hold)
          continue
        }
        // While appends wait for company, other work (cursor moves: no fsync) is written without them.
        if (hold === 0) taken = this.take()
        const writing = this.target.write(taken) // runs up to its write (submitted) before it yields
        tell?.()
        tell = undefined
        try {
          const written = await writing
          tell = () => {
            // Expected before they are told: an appender may answer inside its callback.
            if (written.herd > 0) this.herd.expect(written.herd)
            written.tell()
          }
          // Appenders that will answer at once: tell them now, and let the next write wait for them.
          if (written.herd > 0) {
            tell()
            tell = undefined
          }
        } catch (err) {
          // A read the batch needed failed, or the write itself: nothing of it was adopted.
          this.target.failed(err, taken)
        }
      }
    } finally {
      // Idle before the last appenders are told: one that appends again from its callback (aedes reads
      // a client's next packet inside it) must find the loop able to start again, or that append would
      // wait for some later, unrelated one.
      this.phase = 'idle'
      tell?.()
      this.releaseIdle()
    }
  }

  /** The appends of the next batch: all pending ones, up to the batch limits (at least one). */
  private take(): PendingAppend[] {
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
    if (i === this.pending.length) {
      this.delay.taken()
      return this.pending.splice(0)
    }
    const taken = this.pending.splice(0, i)
    // What is left is a batch of its own already: it goes on the next turn without waiting.
    this.delay.full()
    return taken
  }
}
