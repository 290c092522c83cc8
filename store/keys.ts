// Key layout of the outbox database. One LevelDB holds three namespaces, told apart by the first byte:
//
//   'm' name                    → outbox state (JSON), see outbox-state.ts
//   'c' upstream name (UTF-8)   → cursor: sequence number of the last record that upstream is done with
//   'r' first seq (u64 BE), count (u32 BE) → a segment of records (segment.ts, record-codec.ts)
//   'd' id (u64 BE), value length (u32 BE)  → a dead letter (dead-letter-codec.ts)
//
// Sequence numbers are fixed-width big-endian so LevelDB's byte order is sequence order and a read can
// seek straight to a cursor's segment instead of scanning from the start.

export const META_PREFIX = 0x6d // 'm'
export const CURSOR_PREFIX = 0x63 // 'c'
export const RECORD_PREFIX = 0x72 // 'r'
export const DEAD_PREFIX = 0x64 // 'd'

const TWO_32 = 2 ** 32

/** Start of the record (segment) namespace. */
export const RECORDS_START = Buffer.from([RECORD_PREFIX])

/** Exclusive upper bound of the record namespace. */
export const RECORDS_END = Buffer.from([RECORD_PREFIX + 1])

export function cursorKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([CURSOR_PREFIX]), Buffer.from(name, 'utf8')])
}

export function cursorNameFromKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset + 1, key.byteLength - 1).toString('utf8')
}

export const DEAD_START = Buffer.from([DEAD_PREFIX])
export const DEAD_END = Buffer.from([DEAD_PREFIX + 1])

export const CURSORS_START = Buffer.from([CURSOR_PREFIX])
export const CURSORS_END = Buffer.from([CURSOR_PREFIX + 1])

export const STATE_KEY = Buffer.concat([Buffer.from([META_PREFIX]), Buffer.from('state', 'latin1')])

export function encodeSeq(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8)
  b.writeUInt32BE(Math.floor(seq / TWO_32), 0)
  b.writeUInt32BE(seq >>> 0, 4)
  return b
}

export function decodeSeq(value: Uint8Array): number {
  const view = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return view.readUInt32BE(0) * TWO_32 + view.readUInt32BE(4)
}
