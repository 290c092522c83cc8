// Reads of the log: the segment holding a record, pages of records, one record's bytes, the last record,
// and the scans retention and expiry need. Segments never change once written, so the last one read is
// kept (most reads of a forwarder that keeps up land in it) until the database is reopened.
import type { ClassicLevel } from 'classic-level'
import { OutboxError } from './errors.js'
import { RECORDS_END, RECORDS_START } from './keys.js'
import { decodeRecord, RecordDecodeError, readRecordTs, type StoredRecord } from './record-codec.js'
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

export class SegmentReader {
  /** The last segment read (segments never change once written, so it stays valid). */
  private last: Segment | undefined

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
        for (const [i, from, length] of walkSegment(segment.value)) {
          const seq = segment.firstSeq + i
          if (seq < start) continue
          if (seq > last) return out
          const record = decode(seq, segment.value.subarray(from, from + length))
          if (out.length > 0 && bytes + record.size > limits.maxBytes) return out
          out.push(record)
          bytes += record.size
          if (out.length >= limits.maxRecords) return out
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

  /** The last record of the log, decoded, or undefined when no segment holds one at or after `atLeast`. */
  async lastRecord(db: OutboxDatabase, atLeast: number): Promise<StoredRecord | undefined> {
    const [entry] = await db.iterator({ gte: RECORDS_START, lt: RECORDS_END, reverse: true, limit: 1 }).all()
    if (!entry) return undefined
    const segment = this.toSegment(entry[0], entry[1])
    const at = locateRecord(segment.value, segment.count - 1)
    if (!at) throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `segment at ${segment.firstSeq} is truncated`)
    const seq = segment.firstSeq + segment.count - 1
    if (seq < atLeast) return undefined
    return decode(seq, segment.value.subarray(at.start, at.start + at.length))
  }

  /** How many records from `firstSeq` on (at most `limit`, none past `lastSeq`) are older than `cutoff`. */
  async countOlder(
    db: OutboxDatabase,
    firstSeq: number,
    lastSeq: number,
    cutoff: number,
    limit: number,
  ): Promise<number> {
    if (firstSeq > lastSeq) return 0
    let n = 0
    let segment = await this.holding(db, firstSeq)
    const it = db.iterator({ gt: segment?.key ?? seekKey(firstSeq), lt: RECORDS_END })
    try {
      while (segment) {
        for (const [i, from] of walkSegment(segment.value)) {
          const seq = segment.firstSeq + i
          if (seq < firstSeq) continue
          if (seq > lastSeq || n >= limit || readRecordTs(segment.value.subarray(from)) >= cutoff) return n
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

  /**
   * Keys of the segments from the one starting at `fromSegment` that lie wholly below `newFirst`, in
   * order (their keys are enough: first seq and count are in the key).
   */
  async keysWhollyBelow(db: OutboxDatabase, fromSegment: number, newFirst: number): Promise<Buffer[]> {
    const out: Buffer[] = []
    const keys = db.keys({ gte: segmentKey(fromSegment, 0), lte: seekKey(newFirst - 1) })
    try {
      for await (const key of keys) {
        const { firstSeq, count } = parseSegmentKey(key)
        if (firstSeq + count > newFirst) break
        out.push(key)
      }
    } finally {
      await keys.close()
    }
    return out
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

  private toSegment(key: Buffer, value: Buffer): Segment {
    const { firstSeq, count } = parseSegmentKey(key)
    if (value[0] !== SEGMENT_FORMAT) {
      throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `segment at ${firstSeq}: unknown format ${value[0]}`)
    }
    const segment = { key, firstSeq, count, value }
    this.last = segment
    return segment
  }
}

function decode(seq: number, bytes: Buffer): StoredRecord {
  try {
    return decodeRecord(seq, bytes, RECORD_OVERHEAD)
  } catch (err) {
    if (err instanceof RecordDecodeError) {
      throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', err.message, { cause: err })
    }
    throw err
  }
}
