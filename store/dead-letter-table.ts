// The bookkeeping of dead letters (dead-letter-codec.ts): what is held (entries and bytes, bounded by
// maxBytes: the oldest go first, counted as evicted), the totals by upstream and reason, and the puts
// and deletes waiting for the next batch. Like cursor moves, they ride in the writer's batches, so a
// dead letter is on disk before the cursor that skips its record can be.
import { type DeadLetterReason, deadKey, encodeDeadLetter, parseDeadKey } from './dead-letter-codec.js'
import { oldestDeadKeys } from './dead-letter-reads.js'
import type { OutboxRecord } from './record-codec.js'
import type { OutboxDatabase } from './segment-reader.js'

/** Persisted with the outbox state. */
export interface DeadLetterState {
  /** The id the next dead letter gets. */
  nextId: number
  /** Dead letters held now, and their bytes. */
  held: number
  bytes: number
  /** Dead-lettered since the outbox was created, by `upstream reason` (one space). */
  totals: Record<string, number>
  requeued: number
  purged: number
  evicted: number
}

export const zeroDeadLetterState = (): DeadLetterState => ({
  nextId: 1,
  held: 0,
  bytes: 0,
  totals: {},
  requeued: 0,
  purged: 0,
  evicted: 0,
})

export type RemovedBy = 'requeued' | 'purged' | 'evicted'

interface Put {
  key: Buffer
  value: Buffer
  totalsKey: string
  done: (err?: Error) => void
}

interface Delete {
  key: Buffer
  by: RemovedBy
  done: (err?: Error) => void
}

export interface DeadLetterChanges {
  puts: Put[]
  dels: Delete[]
}

export class DeadLetterTable {
  state: DeadLetterState = zeroDeadLetterState()
  private puts: Put[] = []
  private dels: Delete[] = []
  /** Keys already being deleted (not to be evicted or deleted twice). */
  private deleting = new Set<string>()

  constructor(readonly maxBytes: number) {}

  /** The state as on disk (at open, after a reopen). Puts it shows written already are no longer pending. */
  load(state: DeadLetterState): void {
    this.state = { ...state, totals: { ...state.totals } }
    const written = this.puts.filter((p) => parseDeadKey(p.key).id < state.nextId)
    this.puts = this.puts.filter((p) => !written.includes(p))
    for (const p of written) p.done()
  }

  get hasChanges(): boolean {
    return this.puts.length > 0 || this.dels.length > 0
  }

  /** Queues a dead letter for the next batch; resolves once it is written. */
  add(
    upstream: string,
    record: OutboxRecord & { seq: number },
    reason: DeadLetterReason,
    detail: string,
    now: number,
  ): Promise<void> {
    const value = encodeDeadLetter({ upstream, reason, detail, deadAt: now }, record)
    const id = this.state.nextId + this.puts.length
    return new Promise((resolve, reject) => {
      this.puts.push({
        key: deadKey(id, value.length),
        value,
        totalsKey: `${upstream} ${reason}`,
        done: (err) => (err ? reject(err) : resolve()),
      })
    })
  }

  /** Queues deletes (keys read from the database); resolves once written. Keys already going are skipped. */
  remove(keys: readonly Buffer[], by: RemovedBy): Promise<void> {
    const fresh = keys.filter((k) => !this.deleting.has(k.toString('hex')))
    if (fresh.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      let left = fresh.length
      const done = (err?: Error) => {
        if (err) reject(err)
        else if (--left === 0) resolve()
      }
      for (const key of fresh) {
        this.deleting.add(key.toString('hex'))
        this.dels.push({ key, by, done })
      }
    })
  }

  isDeleting(key: Buffer): boolean {
    return this.deleting.has(key.toString('hex'))
  }

  /** What the next batch should write (a snapshot: later changes stay pending). */
  changes(): DeadLetterChanges {
    return { puts: [...this.puts], dels: [...this.dels] }
  }

  /** The state once `changes` (and `extraDeletes`, e.g. requeued in the same batch) are written. */
  next(
    changes: DeadLetterChanges,
    extraDeletes: ReadonlyArray<{ key: Buffer; by: RemovedBy }> = [],
  ): DeadLetterState {
    const s: DeadLetterState = { ...this.state, totals: { ...this.state.totals } }
    for (const p of changes.puts) {
      s.nextId++
      s.held++
      s.bytes += p.value.length
      s.totals[p.totalsKey] = (s.totals[p.totalsKey] ?? 0) + 1
    }
    for (const d of [...changes.dels, ...extraDeletes]) {
      s.held--
      s.bytes -= parseDeadKey(d.key).valueLength
      s[d.by]++
    }
    return s
  }

  /** The batch with `changes` is on disk and `state` is the new state. */
  written(changes: DeadLetterChanges, state: DeadLetterState): void {
    this.state = state
    this.puts.splice(0, changes.puts.length)
    const written = new Set(changes.dels)
    this.dels = this.dels.filter((d) => !written.has(d))
    for (const d of changes.dels) this.deleting.delete(d.key.toString('hex'))
    for (const p of changes.puts) p.done()
    for (const d of changes.dels) d.done()
  }

  /** Fails every change not written (the outbox is closing: it is not on disk). */
  failAll(err: Error): void {
    for (const p of this.puts.splice(0)) p.done(err)
    for (const d of this.dels.splice(0)) d.done(err)
    this.deleting.clear()
  }

  /** Puts the dead-letter changes in `batch`; returns them and the dead-letter state after it. */
  async writeInto(
    db: OutboxDatabase,
    batch: { put(key: Buffer, value: Buffer): void; del(key: Buffer): void },
    requeued: ReadonlyArray<{ key: Buffer; by: 'requeued' }>,
  ): Promise<{ dead: DeadLetterState; deadChanges: DeadLetterChanges }> {
    const deadChanges = this.changes()
    for (const p of deadChanges.puts) batch.put(p.key, p.value)
    for (const d of deadChanges.dels) batch.del(d.key)
    const removed: Array<{ key: Buffer; by: RemovedBy }> = [...requeued]
    let dead = this.next(deadChanges, removed)
    if (dead.bytes > this.maxBytes) {
      const going = new Set([...removed, ...deadChanges.dels].map((d) => d.key.toString('hex')))
      const skip = (key: Buffer) => going.has(key.toString('hex')) || this.isDeleting(key)
      for (const key of await oldestDeadKeys(db, dead.bytes - this.maxBytes, skip)) {
        batch.del(key)
        removed.push({ key, by: 'evicted' })
      }
      dead = this.next(deadChanges, removed)
    }
    return { dead, deadChanges }
  }
}
