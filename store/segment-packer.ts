// Packs the records of a batch into segments (segment.ts): a new segment when the current one has
// SEGMENT_MAX_RECORDS records or would pass SEGMENT_MAX_BYTES; each segment is encoded into one buffer
// (records written in place, no copy) and put in the batch.
import { type OutboxRecord, writeRecord } from './record-codec.js'
import {
  RECORD_OVERHEAD,
  SEGMENT_FORMAT,
  SEGMENT_MAX_BYTES,
  SEGMENT_MAX_RECORDS,
  segmentKey,
} from './segment.js'

/** A segment being built. */
interface SegmentDraft {
  first: number
  records: OutboxRecord[]
  lengths: number[]
  offsets: number[]
  bytes: number
}

export class SegmentPacker {
  private draft: SegmentDraft | undefined
  /** Bytes put in the batch so far (keys and values). */
  bytes = 0

  constructor(private readonly batch: { put(key: Buffer, value: Buffer): void }) {}

  /** Adds record `seq` (encoded `length` bytes, at log offset `offset`). */
  add(seq: number, record: OutboxRecord, length: number, offset: number): void {
    const size = RECORD_OVERHEAD + length
    let draft = this.draft
    if (
      draft === undefined ||
      draft.records.length >= SEGMENT_MAX_RECORDS ||
      (draft.bytes + size > SEGMENT_MAX_BYTES && draft.records.length > 0)
    ) {
      if (draft) this.put(draft)
      draft = { first: seq, records: [], lengths: [], offsets: [], bytes: 0 }
      this.draft = draft
    }
    draft.records.push(record)
    draft.lengths.push(length)
    draft.offsets.push(offset)
    draft.bytes += size
  }

  /** Puts the last segment in the batch. */
  finish(): void {
    if (this.draft) this.put(this.draft)
    this.draft = undefined
  }

  private put(draft: SegmentDraft): void {
    const value = Buffer.allocUnsafe(1 + draft.bytes)
    value[0] = SEGMENT_FORMAT
    let pos = 1
    for (let i = 0; i < draft.records.length; i++) {
      const length = draft.lengths[i] as number
      value.writeUInt32BE(length, pos)
      writeRecord(value, pos + RECORD_OVERHEAD, draft.records[i] as OutboxRecord, draft.offsets[i] as number)
      pos += RECORD_OVERHEAD + length
    }
    const key = segmentKey(draft.first, draft.records.length)
    this.bytes += key.length + value.length
    this.batch.put(key, value)
  }
}
