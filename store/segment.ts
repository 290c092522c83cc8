// Segments: the records of one group commit are stored together, up to SEGMENT_MAX_RECORDS a segment,
// as one LevelDB entry. A put per record cost more main-thread time than the rest of an append
// (measured: the ingest path went from 67-69% to 72-77% of in-memory aedes with one entry per batch),
// and LevelDB's memtable, log and compactions all work per entry.
//
// Key (13 bytes): 'r', first sequence number (u64 BE), record count (u32 BE). Keys sort by first
// sequence number, so "the segment holding seq" is the last key ≤ seekKey(seq), and retention can read
// keys alone to find whole segments below a cursor.
//
// Value grammar (integers big-endian):
//   u8   segment format          = 2
//   then `count` times:
//        u32  record length L
//        L    bytes: one record (record-codec.ts grammar, version 1)
import { RECORD_PREFIX } from './keys.js'
import type { OutboxRecord } from './record-codec.js'
import { recordLength } from './record-codec.js'

export const SEGMENT_FORMAT = 2
export const SEGMENT_KEY_BYTES = 13
/** A segment is cut at this many records or bytes, so reading one record never loads much. */
export const SEGMENT_MAX_RECORDS = 256
export const SEGMENT_MAX_BYTES = 256 * 1024
/** What the log spends on a record besides its own bytes: its length prefix. */
export const RECORD_OVERHEAD = 4

const TWO_32 = 2 ** 32

export interface SegmentKey {
  firstSeq: number
  count: number
}

export function segmentKey(firstSeq: number, count: number): Buffer {
  const key = Buffer.allocUnsafe(SEGMENT_KEY_BYTES)
  key[0] = RECORD_PREFIX
  key.writeUInt32BE(Math.floor(firstSeq / TWO_32), 1)
  key.writeUInt32BE(firstSeq >>> 0, 5)
  key.writeUInt32BE(count, 9)
  return key
}

/** The greatest possible key of a segment starting at `seq`: the segment holding `seq` is the last key ≤ it. */
export function seekKey(seq: number): Buffer {
  return segmentKey(seq, 0xffffffff)
}

export function parseSegmentKey(key: Uint8Array): SegmentKey {
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength)
  if (view.length !== SEGMENT_KEY_BYTES) throw new Error(`segment key of ${view.length} bytes`)
  return { firstSeq: view.readUInt32BE(1) * TWO_32 + view.readUInt32BE(5), count: view.readUInt32BE(9) }
}

/** Bytes a record takes in the log (what maxBytes counts): its encoding and its length prefix. */
export function recordLogSize(record: OutboxRecord): number {
  return RECORD_OVERHEAD + recordLength(record)
}

/**
 * Start and length of the record at `index` in a segment value (walking the length prefixes), or
 * undefined if the value is shorter than that.
 */
export function locateRecord(value: Buffer, index: number): { start: number; length: number } | undefined {
  if (value[0] !== SEGMENT_FORMAT) return undefined
  let pos = 1
  for (let i = 0; pos + RECORD_OVERHEAD <= value.length; i++) {
    const length = value.readUInt32BE(pos)
    if (pos + RECORD_OVERHEAD + length > value.length) return undefined
    if (i === index) return { start: pos + RECORD_OVERHEAD, length }
    pos += RECORD_OVERHEAD + length
  }
  return undefined
}

/** Every record of a segment value, in order: [index, start, length]. Stops at a truncated record. */
export function* walkSegment(value: Buffer): Generator<[number, number, number]> {
  if (value[0] !== SEGMENT_FORMAT) return
  let pos = 1
  for (let i = 0; pos + RECORD_OVERHEAD <= value.length; i++) {
    const length = value.readUInt32BE(pos)
    if (pos + RECORD_OVERHEAD + length > value.length) return
    yield [i, pos + RECORD_OVERHEAD, length]
    pos += RECORD_OVERHEAD + length
  }
}
