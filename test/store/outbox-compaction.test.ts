// Compaction gives back the disk space of deleted records (LevelDB keeps tombstoned data until then).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import { NO_DISK_GUARD, range, readAll, rec } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const RECORD_BYTES = 16 * 1024
const PER_APPEND = 64 // 1 MiB per append
const APPENDS = 20 // ~20 MiB in all

test('after retention deletes most of ~20 MiB, compact() shrinks the database', async () => {
  const outbox = await Outbox.open({
    dir: join(tempDir(), 'data'),
    ...NO_DISK_GUARD,
    durability: 'none',
    compactMinIntervalMs: 3_600_000, // only the explicit compact() below
  })
  try {
    outbox.cursor('up')
    let n = 0
    for (let a = 0; a < APPENDS; a++) {
      // Random payloads: LevelDB's snappy compression must not hide the volume.
      await outbox.append(range(1, PER_APPEND).map(() => rec(++n, { payload: randomBytes(RECORD_BYTES) })))
    }
    await outbox.flush()
    const peak = await outbox.stats()
    expect(peak.messages).toBe(APPENDS * PER_APPEND)
    expect(peak.diskBytes).toBeGreaterThan(APPENDS * PER_APPEND * RECORD_BYTES * 0.9)

    const keep = 16
    outbox.commit('up', outbox.lastSeq - keep)
    await outbox.flush()
    expect(outbox.firstSeq).toBe(outbox.lastSeq - keep + 1)
    await outbox.compact()

    const after = await outbox.stats()
    expect(after.messages).toBe(keep)
    expect(after.diskBytes, `peak ${peak.diskBytes} bytes, after ${after.diskBytes}`).toBeLessThan(
      peak.diskBytes * 0.3,
    )
    // The records past the cursor survived the compaction intact.
    const left = await readAll(outbox)
    expect(left.map((r) => r.seq)).toEqual(range(outbox.lastSeq - keep + 1, outbox.lastSeq))
    for (const r of left) expect(r.payload.byteLength).toBe(RECORD_BYTES)
  } finally {
    await outbox.close()
  }
})
