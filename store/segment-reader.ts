// Reads of the log: the segment holding a record, pages of records, one record's bytes, the last record,
// and the scans retention and expiry need. Segments never change once written, so the last one read is
// kept (most reads of a forwarder that keeps up land in it) until the database is reopened.
import type { ClassicLevel } from 'classic-level'
import { RECORDS_END, RECORDS_START } from './keys.js'
import {
  decodeRecord,
  RecordDecodeError,
  readRecordOffset,
  readRecordTs,
  type StoredRecord,
} from './record-codec.js'
import {
  locateRecord,
  parseSegmentKey,
  RECORD_OVERHEAD,
  SEGMENT_FORMAT,
  seekKey,
  segmentKey,
  walkSegment,
} from './segment.js'

export type OutboxDatabase = ClassicLevel<Buffer, Buffer>

/** A segment read from the database. */
export interface Segment {
  key: Buffer
  firstSeq: number
  count: number
  value: Buffer
}

export interface PageLimits {
  maxRecords: number
  maxBytes: number
}

/** Told when a read finds records missing or unreadable (a damaged store): `first`..`last`, and why. */
export type DamageListener = (first: number, last: number, what: string) => void

export class SegmentReader {
  /** The last segment read (segments never change once written, so it stays valid). */
  private last: Segment | undefined

  constructor(private readonly onDamage: DamageListener = () => {}) {}

  /** Forgets the cached segment (the database was reopened). */
  forget(): void {
    this.last = undefined
  }

  /**
   * Records [start, last] in order, up to the page limits (at least one record if any exists). No
   * segment holds `start` only if records went missing: the page goes on with the next segment rather
   * than report an empty log (a forwarder would wait for ever).
   */
  async page(db: OutboxDatabase, start: number, last: number, limits: PageLimits): Promise<StoredRecord[]> {
    const out: StoredRecord[] = []
    let bytes = 0
    let segment = (await this.holding(db, start)) ?? (await this.after(db, seekKey(start)))
    let it: { next(): Promise<[Buffer, Buffer] | undefined>; close(): Promise<void> } | undefined
    try {
      while (segment) {
        let walked = 0
        for (const [i, from, length] of walkSegment(segment.value)) {
          walked = i + 1
          const seq = segment.firstSeq + i
          if (seq < start) continue
          if (seq > last) return out
          const record = this.decode(seq, segment.value.subarray(from, from + length))
          if (record === undefined) continue
          if (out.length > 0 && bytes + record.size > limits.maxBytes) return out
          out.push(record)
          bytes += record.size
          if (out.length >= limits.maxRecords) return out
        }
        if (walked < segment.count) {
          const first = Math.max(start, segment.firstSeq + walked)
          const end = Math.min(last, segment.firstSeq + segment.count - 1)
          if (first <= end) this.onDamage(first, end, 'segment truncated')
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
  }

  /** The stored bytes of record `seq` (a view into its segment), or undefined when it is gone. */
  async recordBytes(db: OutboxDatabase, seq: number): Promise<Buffer | undefined> {
    const segment = await this.holding(db, seq)
    if (!segment) return undefined
    const at = locateRecord(segment.value, seq - segment.firstSeq)
    return at ? segment.value.subarray(at.start, at.start + at.length) : undefined
  }

  /**
   * The end of the log: the last sequence number its last segment claims (at or after `atLeast`), and
   * the offset after its last readable record. A damaged last segment still counts for its sequence
   * numbers (so none is ever used twice); undefined when no segment reaches `atLeast`.
   */
  async end(
    db: OutboxDatabase,
    atLeast: number,
  ): Promise<{ lastSeq: number; endOffset: number } | undefined> {
    const it = db.iterator({ gte: RECORDS_START, lt: RECORDS_END, reverse: true })
    try {
      let lastSeq: number | undefined
      for await (const [key, value] of it) {
        const segment = this.toSegment(key, value)
        const claimed = segment.firstSeq + segment.count - 1
        if (claimed < atLeast) return undefined
        lastSeq ??= claimed
        let readable: StoredRecord | undefined
        for (const [i, from, length] of walkSegment(segment.value)) {
          readable =
            this.decode(segment.firstSeq + i, segment.value.subarray(from, from + length)) ?? readable
        }
        if (readable) return { lastSeq, endOffset: readable.offset + readable.size }
      }
      return undefined
    } finally {
      await it.close()
    }
  }

  /**
   * The first record from `firstSeq` on that is not older than `cutoff` (its sequence number), looking
   * at `limit` records at most; lastSeq + 1 when every record up to lastSeq is older. Missing records
   * are passed over.
   */
  async firstNotOlder(
    db: OutboxDatabase,
    firstSeq: number,
    lastSeq: number,
    cutoff: number,
    limit: number,
  ): Promise<{ keepFrom: number; more: boolean }> {
    if (firstSeq > lastSeq) return { keepFrom: firstSeq, more: false }
    let looked = 0
    let segment = (await this.holding(db, firstSeq)) ?? (await this.after(db, seekKey(firstSeq)))
    const it = db.iterator({ gt: segment?.key ?? seekKey(firstSeq), lt: RECORDS_END })
    try {
      while (segment) {
        for (const [i, from] of walkSegment(segment.value)) {
          const seq = segment.firstSeq + i
          if (seq < firstSeq) continue
          if (seq > lastSeq) return { keepFrom: lastSeq + 1, more: false }
          if (looked++ >= limit) return { keepFrom: seq, more: true }
          if (readRecordTs(segment.value.subarray(from)) >= cutoff) return { keepFrom: seq, more: false }
        }
        const next = await it.next()
        segment = next ? this.toSegment(next[0], next[1]) : undefined
      }
      return { keepFrom: lastSeq + 1, more: false }
    } finally {
      await it.close()
    }
  }

  /**
   * The record at or after `seq` that exists (its sequence number and offset): where the log goes on
   * when `seq` itself went missing. Undefined when no record exists from `seq` on.
   */
  async presentFrom(db: OutboxDatabase, seq: number): Promise<{ seq: number; offset: number } | undefined> {
    let segment = await this.holding(db, seq)
    let key = seekKey(seq)
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (segment) {
        for (const [i, from] of walkSegment(segment.value)) {
          if (segment.firstSeq + i >= seq)
            return { seq: segment.firstSeq + i, offset: readRecordOffset(segment.value.subarray(from)) }
        }
        key = segment.key
      }
      segment = await this.after(db, key)
      if (!segment) return undefined
    }
    return undefined
  }

  /** Keys of the segments that start below `before`, from the one starting at `fromSegment` on, in order. */
  async segmentsBelow(
    db: OutboxDatabase,
    fromSegment: number,
    before: number,
  ): Promise<Array<{ key: Buffer; firstSeq: number; count: number }>> {
    const out: Array<{ key: Buffer; firstSeq: number; count: number }> = []
    const keys = db.keys({ gte: segmentKey(fromSegment, 0), lte: seekKey(before - 1) })
    try {
      for await (const key of keys) out.push({ key, ...parseSegmentKey(key) })
    } finally {
      await keys.close()
    }
    return out
  }

  /** The record, or undefined (reported) when its bytes do not decode. */
  private decode(seq: number, bytes: Buffer): StoredRecord | undefined {
    try {
      return decodeRecord(seq, bytes, RECORD_OVERHEAD)
    } catch (err) {
      if (!(err instanceof RecordDecodeError)) throw err
      this.onDamage(seq, seq, err.message)
      return undefined
    }
  }

  /** The segment holding record `seq` (from the one-segment cache, or one reverse seek). */
  private async holding(db: OutboxDatabase, seq: number): Promise<Segment | undefined> {
    const cached = this.last
    if (cached && seq >= cached.firstSeq && seq < cached.firstSeq + cached.count) return cached
    const [entry] = await db
      .iterator({ gte: RECORDS_START, lte: seekKey(seq), reverse: true, limit: 1 })
      .all()
    if (!entry) return undefined
    const segment = this.toSegment(entry[0], entry[1])
    return seq < segment.firstSeq + segment.count ? segment : undefined
  }

  private async after(db: OutboxDatabase, key: Buffer): Promise<Segment | undefined> {
    const [entry] = await db.iterator({ gt: key, lt: RECORDS_END, limit: 1 }).all()
    return entry ? this.toSegment(entry[0], entry[1]) : undefined
  }

  /** A segment of an unknown format holds no readable record (walkSegment yields none): reported, skipped. */
  private toSegment(key: Buffer, value: Buffer): Segment {
    const { firstSeq, count } = parseSegmentKey(key)
    if (value[0] !== SEGMENT_FORMAT)
      this.onDamage(firstSeq, firstSeq + count - 1, `unknown segment format ${value[0]}`)
    const segment = { key, firstSeq, count, value }
    this.last = segment
    return segment
  }
}
