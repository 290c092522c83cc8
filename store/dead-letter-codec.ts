// Dead letters: records an upstream will never take, moved out of that upstream's way with the reason.
// They live in their own keyspace of the outbox database (keys.ts), one entry per (upstream, record).
//
// Key (13 bytes): 'd', dead-letter id (u64 BE, increasing: keys sort oldest first), value length
// (u32 BE: eviction and byte accounting read keys only).
//
// Value grammar, version 1 (integers big-endian):
//   u8   version                 = 1
//   f64  deadAt                  ms since the epoch, when it was dead-lettered
//   f64  seq                     the record's sequence number in the log
//   u8   upstream length U,  U bytes UTF-8
//   u8   reason length R,    R bytes ASCII (one of DEAD_LETTER_REASONS)
//   u16  detail length D,    D bytes UTF-8 (what the upstream said: a reason code, an error message)
//   ...  the record (record-codec.ts grammar, version 1), every remaining byte
import { DEAD_PREFIX } from './keys.js'
import { decodeRecord, encodeRecord, type OutboxRecord, type StoredRecord } from './record-codec.js'

/**
 * Why an upstream will never take a record (a closed set: metrics and the CLI list them):
 * - bad-topic: its topic (as rendered for this upstream) is not a legal topic there
 * - not-authorized, topic-invalid, too-large, payload-invalid: the upstream refused it with that
 *   reason code (MQTT 5 PUBACK 0x87, 0x90, 0x95, 0x99; Kafka's equivalents); refused: another
 *   permanent refusal (the detail says which)
 * - upstream-disconnect: the upstream closes the connection whenever it is sent, alone (a poison message)
 */
export const DEAD_LETTER_REASONS = [
  'bad-topic',
  'not-authorized',
  'topic-invalid',
  'too-large',
  'payload-invalid',
  'refused',
  'upstream-disconnect',
] as const
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number]

export interface DeadLetter {
  id: number
  upstream: string
  reason: DeadLetterReason
  detail: string
  deadAt: number
  /** The record as it was in the log (seq: its sequence number there). */
  record: StoredRecord
}

export const DEAD_KEY_BYTES = 13
const VERSION = 1
const MAX_DETAIL_BYTES = 1024
const TWO_32 = 2 ** 32

export function deadKey(id: number, valueLength: number): Buffer {
  const key = Buffer.allocUnsafe(DEAD_KEY_BYTES)
  key[0] = DEAD_PREFIX
  key.writeUInt32BE(Math.floor(id / TWO_32), 1)
  key.writeUInt32BE(id >>> 0, 5)
  key.writeUInt32BE(valueLength, 9)
  return key
}

export function parseDeadKey(key: Uint8Array): { id: number; valueLength: number } {
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength)
  if (view.length !== DEAD_KEY_BYTES) throw new Error(`dead-letter key of ${view.length} bytes`)
  return { id: view.readUInt32BE(1) * TWO_32 + view.readUInt32BE(5), valueLength: view.readUInt32BE(9) }
}

export function encodeDeadLetter(
  d: { upstream: string; reason: DeadLetterReason; detail: string; deadAt: number },
  record: OutboxRecord & { seq: number },
): Buffer {
  const upstream = Buffer.from(d.upstream, 'utf8')
  const reason = Buffer.from(d.reason, 'ascii')
  let detail = Buffer.from(d.detail, 'utf8')
  if (detail.length > MAX_DETAIL_BYTES) detail = detail.subarray(0, MAX_DETAIL_BYTES)
  if (upstream.length > 255) throw new RangeError('upstream name longer than 255 bytes')
  const body = encodeRecord(record, 0)
  const head = Buffer.allocUnsafe(1 + 8 + 8 + 1 + upstream.length + 1 + reason.length + 2 + detail.length)
  let pos = 0
  head[pos++] = VERSION
  head.writeDoubleBE(d.deadAt, pos)
  head.writeDoubleBE(record.seq, pos + 8)
  pos += 16
  head[pos++] = upstream.length
  pos += upstream.copy(head, pos)
  head[pos++] = reason.length
  pos += reason.copy(head, pos)
  head.writeUInt16BE(detail.length, pos)
  pos += 2
  detail.copy(head, pos)
  return Buffer.concat([head, body])
}

export function decodeDeadLetter(id: number, value: Buffer): DeadLetter {
  if (value[0] !== VERSION) throw new Error(`dead letter ${id}: unknown format version ${value[0]}`)
  let pos = 1
  const deadAt = value.readDoubleBE(pos)
  const seq = value.readDoubleBE(pos + 8)
  pos += 16
  const take = (n: number, encoding: BufferEncoding): string => {
    if (pos + n > value.length) throw new Error(`dead letter ${id}: truncated`)
    const s = value.toString(encoding, pos, pos + n)
    pos += n
    return s
  }
  const upstream = take(value[pos++] as number, 'utf8')
  const reason = take(value[pos++] as number, 'ascii')
  if (!(DEAD_LETTER_REASONS as readonly string[]).includes(reason))
    throw new Error(`dead letter ${id}: unknown reason "${reason}"`)
  const detailLength = value.readUInt16BE(pos)
  pos += 2
  const detail = take(detailLength, 'utf8')
  const record = decodeRecord(seq, value.subarray(pos), 0)
  return { id, upstream, reason: reason as DeadLetterReason, detail, deadAt, record }
}
