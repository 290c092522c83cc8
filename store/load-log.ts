// What opening the outbox reads: the state, the end of the log, the cursors and the newest dead letter —
// a handful of reads, whatever the backlog, so start-up time does not grow with it. Opening also checks
// what those reads can show of damage, and degrades instead of refusing to start:
// - a state that is missing (while records exist) or unreadable is rebuilt from the first record present;
// - records missing at the bottom of the log are reported (they are counted as lost as the log passes);
// - a cursor past the log's end moves the end up to it: sequence numbers are never used twice (the
//   cloud side drops duplicates by gateway id and sequence number, so a reused one would lose a reading);
// - dead-letter ids go on after the newest dead letter on disk.
import { parseDeadKey } from './dead-letter-codec.js'
import { type DeadLetterState, zeroDeadLetterState } from './dead-letter-table.js'
import {
  CURSORS_END,
  CURSORS_START,
  cursorNameFromKey,
  DEAD_END,
  DEAD_START,
  decodeSeq,
  RECORDS_END,
  RECORDS_START,
  STATE_KEY,
} from './keys.js'
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

/** Reports damage found (logged once, listed in stats). */
export type Found = (what: string, details?: object) => void

export async function loadLog(db: OutboxDatabase, reader: SegmentReader, found: Found): Promise<LoadedLog> {
  reader.forget()
  const persisted = await readState(db, reader, found)
  const { firstSeq, firstOffset, firstSegment } = persisted
  let lastSeq = firstSeq - 1
  let endOffset = firstOffset
  const end = await reader.end(db, firstSeq)
  if (end) {
    lastSeq = end.lastSeq
    endOffset = end.endOffset
  }
  if (lastSeq >= firstSeq) {
    const first = await reader.presentFrom(db, firstSeq)
    const to = Math.min(first?.seq ?? lastSeq + 1, lastSeq + 1) - 1
    if (to >= firstSeq)
      found(`records ${firstSeq}..${to} are missing from the bottom of the log`, { firstSeq, to })
  }
  const cursors: Array<[string, number]> = []
  for await (const [key, value] of db.iterator({ gte: CURSORS_START, lt: CURSORS_END })) {
    cursors.push([cursorNameFromKey(key), decodeSeq(value)])
  }
  for (const [name, position] of cursors) {
    if (position <= lastSeq) continue
    found(
      `cursor "${name}" is at ${position}, past the end of the log (${lastSeq}): the end moves up to it, so no sequence number is used twice`,
      { cursor: name, position, lastSeq },
    )
    lastSeq = position
  }
  const [newestDead] = await db.keys({ gte: DEAD_START, lt: DEAD_END, reverse: true, limit: 1 }).all()
  if (newestDead) persisted.dead.nextId = Math.max(persisted.dead.nextId, parseDeadKey(newestDead).id + 1)
  return {
    state: { firstSeq, lastSeq, firstSegment, firstOffset, endOffset },
    counters: persisted.counters,
    dead: persisted.dead,
    cursors,
  }
}

/** The persisted state; rebuilt from the records (and dead letters) when it is missing or unreadable. */
async function readState(db: OutboxDatabase, reader: SegmentReader, found: Found): Promise<PersistedState> {
  const fresh: PersistedState = {
    firstSeq: 1,
    firstOffset: 0,
    firstSegment: 1,
    counters: zeroCounters(),
    dead: zeroDeadLetterState(),
  }
  const raw = await db.get(STATE_KEY)
  if (raw !== undefined) {
    try {
      return decodeState(raw)
    } catch (err) {
      found(`the outbox state is unreadable (${(err as Error).message}): rebuilt from the records`)
    }
  } else {
    const [anyRecord] = await db.keys({ gte: RECORDS_START, lt: RECORDS_END, limit: 1 }).all()
    const [anyDead] = await db.keys({ gte: DEAD_START, lt: DEAD_END, limit: 1 }).all()
    if (!anyRecord && !anyDead) return fresh // a new outbox
    found('the outbox state is missing: rebuilt from the records (its counters start again from 0)')
  }
  const first = await reader.presentFrom(db, 1)
  if (first) Object.assign(fresh, { firstSeq: first.seq, firstOffset: first.offset })
  for await (const key of db.keys({ gte: DEAD_START, lt: DEAD_END })) {
    fresh.dead.held++
    fresh.dead.bytes += parseDeadKey(key).valueLength
  }
  return fresh
}
