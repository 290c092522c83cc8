// The bottom of the log: where firstSeq moves when records are dropped (retention, expiry, eviction),
// which segments go with them, and how many records were missing there (a damaged store: counted once,
// as the log passes them).
//
// Byte accounting without scans: every record stores `offset`, the number of log bytes appended before
// it. The bytes held by records [a, b] are offset(b) + size(b) - offset(a), so dropping records needs one
// point read, never a scan; where a record went missing, the next one present gives the offset.
import type { LogState } from './outbox-state.js'
import type { OutboxDatabase, SegmentReader } from './segment-reader.js'

/** Records dropped from the bottom of the log by one move of firstSeq. */
export interface Drop {
  /** The first and last missing record found (when `lost` > 0). */
  lostFrom: number
  lostTo: number
  /** Segments now wholly below firstSeq. */
  keys: Buffer[]
  freed: number
  present: number
  lost: number
}

export class LogBottom {
  /**
   * @param adoptedLastSeq the last record written to the database (records of the batch being built,
   *   above it, are not there yet; their offsets are in the batch's `batchOffsets`)
   */
  constructor(
    private readonly reader: SegmentReader,
    private readonly db: () => OutboxDatabase,
    private readonly adoptedLastSeq: () => number,
  ) {}

  /**
   * Drops records [s.firstSeq, newFirst): moves `s`, and returns the segments now wholly below it (to
   * delete), the log bytes freed, and how many of the dropped records were there and how many had gone
   * missing (a damaged store: counted once, here, as the log passes them). Nothing goes into a batch
   * yet, so a read that fails midway leaves the batch as it was.
   */
  async dropBelow(newFirst: number, s: LogState, batchOffsets: number[]): Promise<Drop> {
    const drop: Drop = { lostFrom: 0, lostTo: 0, keys: [], freed: 0, present: 0, lost: 0 }
    if (newFirst <= s.firstSeq) return drop
    const newFirstOffset = await this.offsetOf(newFirst, s, batchOffsets)
    // Records of this very batch (evicted before they were ever written) are not in the database.
    const inDb = Math.min(newFirst, this.adoptedLastSeq() + 1)
    drop.present = newFirst - Math.max(s.firstSeq, inDb)
    let expect = s.firstSeq // the next record the segments should hold
    const gap = (to: number) => {
      if (to <= expect) return
      drop.lost += to - expect
      drop.lostFrom ||= expect
      drop.lostTo = to - 1
    }
    for (const seg of await this.reader.segmentsBelow(this.db(), s.firstSegment, newFirst)) {
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

  /** Offset of record `seq` in the working state `s` (of the next record present when it is missing). */
  private async offsetOf(seq: number, s: LogState, batchOffsets: number[]): Promise<number> {
    if (seq > s.lastSeq) return s.endOffset
    if (seq <= s.firstSeq) return s.firstOffset
    const inBatch = seq - (this.adoptedLastSeq() + 1)
    if (inBatch >= 0) return batchOffsets[inBatch] as number
    const next = await this.reader.presentFrom(this.db(), seq)
    if (next !== undefined && next.seq <= this.adoptedLastSeq()) return next.offset
    return batchOffsets.length > 0 ? (batchOffsets[0] as number) : s.endOffset
  }

  /** Binary search: lowest seq in [firstSeq, lastSeq + 1] whose offset is ≥ `offset`. */
  async firstSeqWithOffsetAtLeast(offset: number, s: LogState, batchOffsets: number[]): Promise<number> {
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
