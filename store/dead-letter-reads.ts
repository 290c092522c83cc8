// Reads of the dead-letter keyspace: a filtered page of dead letters (oldest first), and the oldest keys
// to evict when the dead letters are over their bound (keys only: the value length is in the key).
import {
  type DeadLetter,
  type DeadLetterReason,
  deadKey,
  decodeDeadLetter,
  parseDeadKey,
} from './dead-letter-codec.js'
import { DEAD_END, DEAD_START } from './keys.js'
import type { OutboxDatabase } from './segment-reader.js'

export interface DeadLetterFilter {
  upstream?: string | undefined
  reason?: DeadLetterReason | undefined
  /** Only dead letters with a greater id (paging). */
  afterId?: number | undefined
  /** At most this many (default 100). */
  limit?: number | undefined
}

export interface DeadLetterEntry extends DeadLetter {
  key: Buffer
}

export async function listDeadLetters(
  db: OutboxDatabase,
  filter: DeadLetterFilter = {},
): Promise<DeadLetterEntry[]> {
  const limit = filter.limit ?? 100
  const out: DeadLetterEntry[] = []
  const it = db.iterator({ gt: afterKey(filter.afterId), lt: DEAD_END })
  try {
    for await (const [key, value] of it) {
      const d = decodeDeadLetter(parseDeadKey(key).id, value)
      if (filter.upstream !== undefined && d.upstream !== filter.upstream) continue
      if (filter.reason !== undefined && d.reason !== filter.reason) continue
      out.push({ ...d, key })
      if (out.length >= limit) break
    }
  } finally {
    await it.close()
  }
  return out
}

/** The oldest keys whose values add up to at least `bytes`, passing over those `skip` says. */
export async function oldestDeadKeys(
  db: OutboxDatabase,
  bytes: number,
  skip: (key: Buffer) => boolean,
): Promise<Buffer[]> {
  const out: Buffer[] = []
  let freed = 0
  const keys = db.keys({ gte: DEAD_START, lt: DEAD_END })
  try {
    for await (const key of keys) {
      if (freed >= bytes) break
      if (skip(key)) continue
      out.push(key)
      freed += parseDeadKey(key).valueLength
    }
  } finally {
    await keys.close()
  }
  return out
}

/** The greatest possible key of dead letter `afterId` (undefined: before every dead letter). */
function afterKey(afterId: number | undefined): Buffer {
  return afterId === undefined ? DEAD_START : deadKey(afterId, 0xffffffff)
}
