// Dead letters, as the rest of the gateway sees them (`outbox.deadLetters`): a forwarder moves a record
// its upstream will never take out of its way (add, then commits its cursor past the record); the CLI
// lists them, requeues them (appended to the log again, for that upstream only) or purges them. All of
// it is counted: dead-lettered by upstream and reason, requeued, purged, evicted (over maxBytes).
import type { DeadLetter, DeadLetterReason } from './dead-letter-codec.js'
import { type DeadLetterEntry, type DeadLetterFilter, listDeadLetters } from './dead-letter-reads.js'
import type { DeadLetterTable } from './dead-letter-table.js'
import type { OutboxError } from './errors.js'
import type { OutboxRecord, StoredRecord } from './record-codec.js'
import type { OutboxDatabase } from './segment-reader.js'

export type { DeadLetter, DeadLetterReason } from './dead-letter-codec.js'
export { DEAD_LETTER_REASONS } from './dead-letter-codec.js'
export type { DeadLetterFilter } from './dead-letter-reads.js'

export interface DeadLetterStats {
  /** Held now. */
  messages: number
  bytes: number
  maxBytes: number
  /** Dead-lettered since the outbox was created. */
  totals: Array<{ upstream: string; reason: DeadLetterReason; count: number }>
  requeued: number
  purged: number
  evicted: number
}

export interface DeadLetterHost {
  table: DeadLetterTable
  /** A gated read of the database. */
  read<T>(fn: (db: OutboxDatabase) => Promise<T>): Promise<T>
  /** Appends `records` deleting the dead letters `from` in the same batch; resolves when committed. */
  append(records: OutboxRecord[], from: Buffer[]): Promise<number>
  /** Why changes are refused now (closed, recovering), if they are. */
  refusal(): OutboxError | undefined
  /** Wakes the writer. */
  kick(): void
  now(): number
}

const PAGE = 500

export class DeadLetters {
  constructor(private readonly host: DeadLetterHost) {}

  /**
   * Moves `record` out of `upstream`'s way with `reason` (and what the upstream said, in `detail`).
   * Resolves once it is written: only then may the upstream's cursor move past the record.
   */
  add(upstream: string, record: StoredRecord, reason: DeadLetterReason, detail = ''): Promise<void> {
    const refusal = this.host.refusal()
    if (refusal?.code === 'OUTPOST_OUTBOX_CLOSED') return Promise.reject(refusal)
    const written = this.host.table.add(upstream, record, reason, detail, this.host.now())
    this.host.kick()
    return written
  }

  /** Dead letters, oldest first, filtered and paged (`afterId`, `limit`: 100 by default). */
  list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return this.host
      .read((db) => listDeadLetters(db, filter))
      .then((entries) => entries.map(({ key: _key, ...d }) => d))
  }

  /**
   * Appends the dead letters matching `filter` to the log again, each routed to its upstream only (with
   * the topic and key it had there, and its original timestamp), and deletes them in the same batch.
   * Returns how many. Dead letters added meanwhile are left for the next call.
   */
  requeue(filter: Omit<DeadLetterFilter, 'afterId' | 'limit'> = {}): Promise<number> {
    return this.eachPage(filter, async (page) => {
      await this.host.append(
        page.map((d) => requeued(d)),
        page.map((d) => d.key),
      )
    })
  }

  /** Deletes the dead letters matching `filter` (counted as purged); returns how many. */
  purge(filter: Omit<DeadLetterFilter, 'afterId' | 'limit'> = {}): Promise<number> {
    return this.eachPage(filter, async (page) => {
      const removing = this.host.table.remove(
        page.map((d) => d.key),
        'purged',
      )
      this.host.kick()
      await removing
    })
  }

  /**
   * Runs `fn` on the dead letters matching `filter`, a page at a time, oldest first; only those that
   * existed when it began (one added meanwhile waits for the next call). Returns how many it saw.
   */
  private async eachPage(
    filter: Omit<DeadLetterFilter, 'afterId' | 'limit'>,
    fn: (page: DeadLetterEntry[]) => Promise<void>,
  ): Promise<number> {
    const last = this.host.table.state.nextId - 1
    let n = 0
    for (let afterId = 0; ; ) {
      const page = (
        await this.host.read((db) => listDeadLetters(db, { ...filter, afterId, limit: PAGE }))
      ).filter((d) => d.id <= last)
      if (page.length === 0) return n
      await fn(page)
      n += page.length
      afterId = (page[page.length - 1] as DeadLetter).id
    }
  }

  stats(): DeadLetterStats {
    const s = this.host.table.state
    const totals = Object.entries(s.totals).map(([k, count]) => {
      const at = k.lastIndexOf(' ')
      return { upstream: k.slice(0, at), reason: k.slice(at + 1) as DeadLetterReason, count }
    })
    return {
      messages: s.held,
      bytes: s.bytes,
      maxBytes: this.host.table.maxBytes,
      totals,
      requeued: s.requeued,
      purged: s.purged,
      evicted: s.evicted,
    }
  }
}

/** The record as it goes back into the log: for the dead letter's upstream only. */
function requeued(d: DeadLetter): OutboxRecord {
  const r = d.record
  const dest = (r.to === 'all' ? undefined : r.to.find((x) => x.upstream === d.upstream)) ?? {
    upstream: d.upstream,
  }
  return {
    topic: r.topic,
    payload: r.payload,
    qos: r.qos,
    retain: r.retain,
    ts: r.ts,
    origin: r.origin,
    to: [dest],
  }
}
