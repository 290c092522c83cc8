// The outbox's own bookkeeping: the bounds of the log and the counters of everything dropped or refused.
// Stored as one small JSON value under STATE_KEY, written in the same batch as the change it describes.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { type DeadLetterState, zeroDeadLetterState } from './dead-letter-table.js'

export interface OutboxCounters {
  /** Records removed by whenFull: drop-oldest. */
  evicted: number
  /** Records removed because they were older than maxAgeSec. */
  expired: number
  /** Backlog abandoned when an upstream's cursor was removed. */
  upstreamRemoved: number
  /** Records refused under whenFull: reject (or too large), by the limit that refused them. */
  rejectedBytes: number
  rejectedMessages: number
  rejectedDisk: number
  /** Records refused because a write failed (ENOSPC or another I/O error). */
  writeFailed: number
  /** Records gone from a damaged store (missing or unreadable), counted as the log passes them. */
  lostCorrupt: number
}

export const zeroCounters = (): OutboxCounters => ({
  evicted: 0,
  expired: 0,
  upstreamRemoved: 0,
  rejectedBytes: 0,
  rejectedMessages: 0,
  rejectedDisk: 0,
  writeFailed: 0,
  lostCorrupt: 0,
})

/** Bounds of the log. The writer changes a copy and adopts it only once the batch is written. */
export interface LogState {
  /** Lowest sequence number still in the log (records below it are gone, even where their segment is not). */
  firstSeq: number
  lastSeq: number
  /** First sequence number of the lowest segment still on disk (≤ firstSeq). */
  firstSegment: number
  /** offset of record firstSeq (or of the next record when the log is empty). */
  firstOffset: number
  /** offset the next record will get. */
  endOffset: number
}

const STATE_VERSION = 2

export interface PersistedState {
  firstSeq: number
  firstOffset: number
  firstSegment: number
  counters: OutboxCounters
  dead: DeadLetterState
}

export function encodeState(s: PersistedState): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: STATE_VERSION,
      firstSeq: s.firstSeq,
      firstOffset: s.firstOffset,
      firstSegment: s.firstSegment,
      counters: s.counters,
      dead: s.dead,
    }),
  )
}

/** Throws on anything but a well-formed version-2 state. */
export function decodeState(raw: Uint8Array): PersistedState {
  const parsed = JSON.parse(Buffer.from(raw).toString('utf8')) as {
    v?: unknown
    firstSeq?: unknown
    firstOffset?: unknown
    firstSegment?: unknown
    counters?: Partial<OutboxCounters>
    dead?: Partial<DeadLetterState>
  }
  if (parsed.v !== STATE_VERSION) throw new Error(`unknown state version ${String(parsed.v)}`)
  const positive = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1
  if (!positive(parsed.firstSeq)) throw new Error('bad firstSeq')
  if (!positive(parsed.firstSegment) || parsed.firstSegment > parsed.firstSeq)
    throw new Error('bad firstSegment')
  if (typeof parsed.firstOffset !== 'number' || parsed.firstOffset < 0) throw new Error('bad firstOffset')
  return {
    firstSeq: parsed.firstSeq,
    firstOffset: parsed.firstOffset,
    firstSegment: parsed.firstSegment,
    counters: { ...zeroCounters(), ...parsed.counters },
    // States written before dead letters existed have none.
    dead: { ...zeroDeadLetterState(), ...parsed.dead },
  }
}

export function addCounters(a: OutboxCounters, b: Partial<OutboxCounters>): OutboxCounters {
  const out = { ...a }
  for (const [k, v] of Object.entries(b) as Array<[keyof OutboxCounters, number]>) out[k] += v
  return out
}

/** Raises each counter of `into` to `from`'s where that is higher. */
export function keepHigher(into: OutboxCounters, from: OutboxCounters): void {
  for (const k of Object.keys(into) as Array<keyof OutboxCounters>) into[k] = Math.max(into[k], from[k])
}

/** Bytes of the files directly in `dir` (the LevelDB directory), optionally only those ending in `suffix`. */
export async function dirBytes(dir: string, suffix = ''): Promise<number> {
  let total = 0
  try {
    for (const name of await readdir(dir)) {
      if (!name.endsWith(suffix)) continue
      total += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size
    }
  } catch {
    return 0
  }
  return total
}
