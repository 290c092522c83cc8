// Records are stored in segments of up to 256 (store/segment.ts). Whatever the segment boundaries, reads
// return exactly the records asked for; removing records moves firstSeq and deletes a segment only once
// all of it is below firstSeq; all of it survives a reopen.
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, test } from 'vitest'
import { RECORDS_END, RECORDS_START } from '../../store/keys.js'
import { Outbox } from '../../store/outbox.js'
import { parseSegmentKey, SEGMENT_MAX_RECORDS } from '../../store/segment.js'
import { NO_DISK_GUARD, readAll, rec } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const open: Outbox[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})

async function outboxIn(dir: string): Promise<Outbox> {
  const o = await Outbox.open({ dir, durability: 'none', ...NO_DISK_GUARD })
  open.push(o)
  return o
}

/** The segments on disk (first seq and count), read with a database of our own after close. */
async function segmentsOnDisk(dir: string): Promise<Array<{ firstSeq: number; count: number }>> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'outbox'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  })
  await db.open()
  try {
    const out: Array<{ firstSeq: number; count: number }> = []
    for await (const key of db.keys({ gte: RECORDS_START, lt: RECORDS_END })) out.push(parseSegmentKey(key))
    return out
  } finally {
    await db.close()
  }
}

const payloads = (records: Array<{ payload: Uint8Array }>) =>
  records.map((r) => Buffer.from(r.payload).toString())

describe('segments', () => {
  test('one large append spans several segments; every read window across their boundaries is exact', async () => {
    const dir = tempDir()
    const o = await outboxIn(dir)
    const n = 3 * SEGMENT_MAX_RECORDS + 17
    expect(await o.append(Array.from({ length: n }, (_, i) => rec(i + 1)))).toBe(1)
    for (const after of [0, 1, 255, 256, 257, 511, 512, 700, n - 1]) {
      for (const maxRecords of [1, 3, 256, 300]) {
        const got = await o.read(after, { maxRecords })
        const want = Math.min(maxRecords, n - after)
        expect(got.map((r) => r.seq)).toEqual(Array.from({ length: want }, (_, i) => after + 1 + i))
        expect(payloads(got)).toEqual(Array.from({ length: want }, (_, i) => `msg-${after + 1 + i}`))
      }
    }
    expect(await o.read(n)).toEqual([])
    await o.close()
    const segs = await segmentsOnDisk(dir)
    expect(segs.map((x) => x.count)).toEqual([256, 256, 256, 17])
    expect(segs.map((x) => x.firstSeq)).toEqual([1, 257, 513, 769])
  })

  test('retention moves firstSeq inside a segment and deletes only segments wholly below it', async () => {
    const dir = tempDir()
    let o = await outboxIn(dir)
    o.cursor('up')
    await o.append(Array.from({ length: 600 }, (_, i) => rec(i + 1))) // segments 1-256, 257-512, 513-600
    await o.commit('up', 300)
    await o.flush()
    expect(o.firstSeq).toBe(301)
    expect((await readAll(o)).map((r) => r.seq)).toEqual(Array.from({ length: 300 }, (_, i) => 301 + i))
    const stats = await o.stats()
    expect(stats.messages).toBe(300)
    await o.close()
    expect(await segmentsOnDisk(dir)).toEqual([
      { firstSeq: 257, count: 256 },
      { firstSeq: 513, count: 88 },
    ])

    o = await outboxIn(dir)
    expect([o.firstSeq, o.lastSeq, o.cursor('up')]).toEqual([301, 600, 300])
    expect(await o.read(0, { maxRecords: 2 })).toMatchObject([{ seq: 301 }, { seq: 302 }])
    expect((await o.stats()).bytes).toBe(stats.bytes)
    await o.commit('up', 600)
    await o.flush()
    await o.close()
    expect(await segmentsOnDisk(dir)).toEqual([])

    o = await outboxIn(dir)
    expect([o.firstSeq, o.lastSeq]).toEqual([601, 600])
    expect(await o.append([rec(601)])).toBe(601)
  })

  test('retention to the last record of a segment keeps that segment (its last record is still live)', async () => {
    const dir = tempDir()
    const o = await outboxIn(dir)
    o.cursor('up')
    for (let b = 0; b < 3; b++) await o.append(Array.from({ length: 10 }, (_, i) => rec(b * 10 + i + 1)))
    await o.commit('up', 19) // the new first record, 20, is the last of segment 11-20
    await o.flush()
    expect(o.firstSeq).toBe(20)
    expect((await readAll(o)).map((r) => r.seq)).toEqual(Array.from({ length: 11 }, (_, i) => 20 + i))
    expect((await o.stats()).counters.lostCorrupt).toBe(0)
    await o.close()
    expect(await segmentsOnDisk(dir)).toEqual([
      { firstSeq: 11, count: 10 },
      { firstSeq: 21, count: 10 },
    ])
  })

  test('many small appends in one batch share segments and keep their order', async () => {
    const dir = tempDir()
    const o = await outboxIn(dir)
    const seqs = await Promise.all(Array.from({ length: 700 }, (_, i) => o.append([rec(i + 1)])))
    expect(seqs).toEqual(Array.from({ length: 700 }, (_, i) => i + 1))
    expect(payloads(await readAll(o))).toEqual(Array.from({ length: 700 }, (_, i) => `msg-${i + 1}`))
    await o.close()
    const segs = await segmentsOnDisk(dir)
    expect(segs.length).toBeLessThan(700) // not a segment per record
    expect(segs.reduce((n, x) => n + x.count, 0)).toBe(700)
  })
})
