// What opening the outbox reads: the state, the last record and the cursors — a handful of reads,
// whatever the backlog, so start-up time does not grow with it.

import { type DeadLetterState, zeroDeadLetterState } from './dead-letter-table.js'
import { OutboxError } from './errors.js'
import { CURSORS_END, CURSORS_START, cursorNameFromKey, decodeSeq, STATE_KEY } from './keys.js'
import {
  decodeState,
  type LogState,
  type OutboxCounters,
  type PersistedState,
  zeroCounters,
} from './outbox-state.js'
import type { OutboxDatabase, SegmentReader } from './segment-reader.js'

export interface LoadedLog {
  state: LogState
  /** The counters as last written. */
  counters: OutboxCounters
  dead: DeadLetterState
  cursors: Array<[name: string, position: number]>
}

export async function loadLog(db: OutboxDatabase, reader: SegmentReader, dir: string): Promise<LoadedLog> {
  reader.forget()
  const raw = await db.get(STATE_KEY)
  let persisted: PersistedState = {
    firstSeq: 1,
    firstOffset: 0,
    firstSegment: 1,
    counters: zeroCounters(),
    dead: zeroDeadLetterState(),
  }
  if (raw !== undefined) {
    try {
      persisted = decodeState(raw)
    } catch (err) {
      throw new OutboxError('OUTPOST_OUTBOX_CORRUPT', `outbox state in ${dir} is unreadable`, { cause: err })
    }
  }
  const { firstSeq, firstOffset, firstSegment } = persisted
  let lastSeq = firstSeq - 1
  let endOffset = firstOffset
  const last = await reader.lastRecord(db, firstSeq)
  if (last) {
    lastSeq = last.seq
    endOffset = last.offset + last.size
  }
  const cursors: Array<[string, number]> = []
  for await (const [key, value] of db.iterator({ gte: CURSORS_START, lt: CURSORS_END })) {
    cursors.push([cursorNameFromKey(key), decodeSeq(value)])
  }
  return {
    state: { firstSeq, lastSeq, firstSegment, firstOffset, endOffset },
    counters: persisted.counters,
    dead: persisted.dead,
    cursors,
  }
}
