// The outbox's stats() snapshot: the log's bounds, limits, disk use, counters and each cursor's backlog.
import type { DamageStats } from './damage.js'
import type { DeadLetterStats } from './dead-letters.js'
import type { Durability } from './log-writer.js'
import type { LogState, OutboxCounters } from './outbox-state.js'
import { readRecordOffset, readRecordTs } from './record-codec.js'

export interface CursorStats {
  name: string
  /** Sequence number of the last record this cursor is done with. */
  position: number
  /** Records past the cursor (including records routed only to other upstreams, which it skips). */
  backlogMessages: number
  backlogBytes: number
  /** Age of the oldest record past the cursor, in ms (0 when there is none). */
  oldestAgeMs: number
}

export interface OutboxStats {
  state: 'ok' | 'recovering' | 'closed'
  durability: Durability
  firstSeq: number
  lastSeq: number
  messages: number
  bytes: number
  /** Records appended since the outbox was created (the last sequence number). */
  appended: number
  maxBytes: number
  maxMessages: number | undefined
  diskBytes: number
  diskFreeBytes: number
  cursors: CursorStats[]
  counters: OutboxCounters
  /**
   * Batches written to LevelDB since open, how many of them were fsync'd, and the bytes they held
   * (segments, cursors, state: what LevelDB's log gets; its tables get them again at flush and compaction).
   */
  writes: { batches: number; synced: number; bytes: number }
  deadLetters: DeadLetterStats
  /** Damage found in the store (missing or unreadable records, repairs), see damage.ts. */
  damage: DamageStats
}

/** Each cursor's backlog: one point read of its oldest pending record (offset and age), no scan. */
export async function cursorStats(
  cursors: Iterable<[string, number]>,
  s: LogState,
  now: number,
  recordBytes: (seq: number) => Promise<Buffer | undefined>,
): Promise<CursorStats[]> {
  const out: CursorStats[] = []
  for (const [name, position] of cursors) {
    const start = Math.max(position + 1, s.firstSeq)
    if (start > s.lastSeq) {
      out.push({ name, position, backlogMessages: 0, backlogBytes: 0, oldestAgeMs: 0 })
      continue
    }
    const value = await recordBytes(start)
    out.push({
      name,
      position,
      backlogMessages: s.lastSeq - start + 1,
      backlogBytes: s.endOffset - (value ? readRecordOffset(value) : s.firstOffset),
      oldestAgeMs: value ? Math.max(0, now - readRecordTs(value)) : 0,
    })
  }
  return out
}
