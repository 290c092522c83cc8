// A damaged store degrades, it doesn't stop (#7 item 5). Each test damages a real store on disk — a
// segment key deleted, a record's bytes garbled, the state key gone, a table file deleted or truncated —
// and shows that appends, reads (forwarding), retention, expiry and eviction carry on, that what was lost
// is counted (counters.lostCorrupt) once, and that stats say what was found.
import { readdirSync, statSync, truncateSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, test } from 'vitest'
import { cursorKey, encodeSeq, RECORDS_END, RECORDS_START, STATE_KEY } from '../../store/keys.js'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import { NO_DISK_GUARD, range, readAll, rec, seqsOf } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, durability: 'none', ...NO_DISK_GUARD, ...options })
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

/** Opens the outbox's LevelDB directly (the outbox must be closed) and runs `fn` on it. */
async function withRawDb<T>(dir: string, fn: (db: ClassicLevel<Buffer, Buffer>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'outbox'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  })
  await db.open()
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

async function segmentKeys(db: ClassicLevel<Buffer, Buffer>): Promise<Buffer[]> {
  return db.keys({ gte: RECORDS_START, lt: RECORDS_END }).all()
}

/** A closed outbox of `batches` appends of `per` records each (one segment per append), cursor "cloud" at 0. */
async function seed(
  dir: string,
  batches: number,
  per: number,
  options: Partial<OutboxOptions> = {},
): Promise<void> {
  const o = await open(dir, options)
  o.cursor('cloud')
  for (let b = 0; b < batches; b++) {
    await o.append(Array.from({ length: per }, (_, i) => rec(b * per + i + 1)))
  }
  await o.close()
}

describe('a missing segment', () => {
  test('drop-oldest: appends are still taken (issue #7 item 6: every append was refused for ever)', async () => {
    const dir = join(tempDir(), 'data')
    const size = 4 + 100
    await seed(dir, 5, 10, { whenFull: 'drop-oldest' })
    await withRawDb(dir, async (db) => {
      const keys = await segmentKeys(db)
      await db.del(keys[1] as Buffer) // records 11..20
    })
    // Room for about 50 records: every append now evicts, across the gap.
    const o = await open(dir, { whenFull: 'drop-oldest', maxBytes: 50 * size })
    for (let i = 51; i <= 120; i++) {
      await o.append([rec(i, { payload: Buffer.alloc(100 - 50, 0x61) })])
    }
    expect(o.lastSeq).toBe(120)
    const stats = await o.stats()
    expect(stats.counters.lostCorrupt).toBe(10)
    expect(stats.counters.evicted).toBeGreaterThan(0)
    expect(stats.damage.findings.join('\n')).toMatch(/10 record\(s\) between 11 and 20 were missing/)
  })

  test('forwarding reads past the gap, retention passes it and counts its records as lost exactly once', async () => {
    const dir = join(tempDir(), 'data')
    await seed(dir, 4, 10)
    await withRawDb(dir, async (db) => {
      await db.del((await segmentKeys(db))[2] as Buffer) // records 21..30
    })
    const o = await open(dir)
    expect(o.lastSeq).toBe(40)
    const read = await readAll(o)
    expect(seqsOf(read)).toEqual([...range(1, 20), ...range(31, 40)])
    await o.commit('cloud', 25) // inside the gap
    await o.flush()
    await o.commit('cloud', 40)
    await o.flush()
    expect(o.firstSeq).toBe(41)
    await o.append([rec(41)])
    expect(seqsOf(await readAll(o, 40))).toEqual([41])
    const stats = await o.stats()
    expect(stats.counters.lostCorrupt).toBe(10)
    await o.close()
    const again = await open(dir)
    expect((await again.stats()).counters.lostCorrupt).toBe(10) // persisted, not counted again
  })

  test('expiry passes a gap at the bottom of the log', async () => {
    const dir = join(tempDir(), 'data')
    let now = 1_700_000_000_000
    await seed(dir, 3, 10, { now: () => now })
    await withRawDb(dir, async (db) => {
      await db.del((await segmentKeys(db))[0] as Buffer) // records 1..10
    })
    now += 10 * 60_000
    const o = await open(dir, { now: () => now, maxAgeSec: 1 })
    const fresh = await o.append([rec(31, { ts: now })])
    expect(fresh).toBe(31)
    const deadline = Date.now() + 5_000
    while (o.firstSeq < 31 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(o.firstSeq).toBe(31)
    const stats = await o.stats()
    expect(stats.counters.expired).toBe(20)
    expect(stats.counters.lostCorrupt).toBe(10)
    expect(stats.damage.findings.join('\n')).toMatch(/records 1\.\.10 are missing/)
  })
})

test('a garbled record is skipped by reads and counted once, the rest of its segment is read', async () => {
  const dir = join(tempDir(), 'data')
  await seed(dir, 1, 5)
  await withRawDb(dir, async (db) => {
    const [key] = await segmentKeys(db)
    const value = Buffer.from((await db.get(key as Buffer)) as Buffer)
    // Record 3 starts after the segment format byte and two (length prefix + record) entries.
    let pos = 1
    for (let i = 0; i < 2; i++) pos += 4 + value.readUInt32BE(pos)
    value[pos + 4] = 0x7f // its format version byte
    await db.put(key as Buffer, value)
  })
  const o = await open(dir)
  expect(seqsOf(await readAll(o))).toEqual([1, 2, 4, 5])
  expect(seqsOf(await readAll(o))).toEqual([1, 2, 4, 5])
  const stats = await o.stats()
  expect(stats.counters.lostCorrupt).toBe(1)
  expect(stats.damage.findings.join('\n')).toMatch(/records 3\.\.3 are unreadable/)
})

test('a missing state key is rebuilt from the records: no sequence number is used twice', async () => {
  const dir = join(tempDir(), 'data')
  await seed(dir, 3, 10)
  await withRawDb(dir, (db) => db.del(STATE_KEY))
  const o = await open(dir)
  expect([o.firstSeq, o.lastSeq]).toEqual([1, 30])
  expect(await o.append([rec(31)])).toBe(31)
  expect((await o.stats()).damage.findings.join('\n')).toMatch(/state is missing/)
})

test('an unreadable state key is rebuilt instead of refusing to open', async () => {
  const dir = join(tempDir(), 'data')
  await seed(dir, 2, 10)
  await withRawDb(dir, (db) => db.put(STATE_KEY, Buffer.from('{"v":2,"firstSeq":')))
  const o = await open(dir)
  expect(o.lastSeq).toBe(20)
  expect(seqsOf(await readAll(o))).toEqual(range(1, 20))
})

test('a cursor past the end of the log moves the end up: new readings get new sequence numbers', async () => {
  const dir = join(tempDir(), 'data')
  await seed(dir, 2, 10)
  await withRawDb(dir, async (db) => {
    await db.del((await segmentKeys(db))[1] as Buffer) // the last segment: records 11..20
    await db.put(cursorKey('cloud'), encodeSeq(20)) // delivered before they were lost
  })
  const o = await open(dir)
  expect(o.lastSeq).toBe(20)
  expect(await o.append([rec(21)])).toBe(21) // not 11: the cloud saw 11..20 already
  expect(seqsOf(await readAll(o, o.cursor('cloud')))).toEqual([21])
  expect((await o.stats()).damage.findings.join('\n')).toMatch(/cursor "cloud" is at 20, past the end/)
})

describe('damaged table files', () => {
  /** A store whose records sit in several table files (each reopen flushes the log into a new one). */
  async function seedTables(dir: string): Promise<void> {
    for (let round = 0; round < 4; round++) {
      const o = await open(dir)
      o.cursor('cloud')
      await o.append(Array.from({ length: 200 }, (_, i) => rec(round * 200 + i + 1)))
      await o.close()
    }
  }

  function tables(dir: string): string[] {
    return readdirSync(join(dir, 'outbox'))
      .filter((f) => f.endsWith('.ldb'))
      .sort()
  }

  test('a missing table file ("Corruption: 1 missing files") is repaired at open; appends and reads go on', async () => {
    const dir = join(tempDir(), 'data')
    await seedTables(dir)
    const files = tables(dir)
    expect(files.length).toBeGreaterThanOrEqual(2)
    unlinkSync(join(dir, 'outbox', files[0] as string))
    const o = await open(dir)
    const stats = await o.stats()
    expect(stats.damage.repairs).toBe(1)
    expect(stats.damage.findings.join('\n')).toMatch(/repaired/)
    const before = await readAll(o)
    expect(before.length).toBeGreaterThan(0)
    expect(before.length).toBeLessThan(800)
    const next = await o.append([rec(9999)])
    expect(next).toBeGreaterThan(before[before.length - 1]?.seq ?? 0)
    // The cursor may have been in the lost table: a lost cursor starts again below the oldest record
    // (everything kept is sent again: duplicates, never a gap).
    expect(o.cursor('cloud')).toBeLessThanOrEqual(o.firstSeq - 1)
    await o.commit('cloud', next)
    await o.flush()
    expect(o.firstSeq).toBe(next + 1)
  })

  test('a truncated table file is repaired (at open, or when a read hits it); appends and reads go on', async () => {
    const dir = join(tempDir(), 'data')
    await seedTables(dir)
    const files = tables(dir)
    const victim = join(dir, 'outbox', files[0] as string)
    truncateSync(victim, Math.floor(statSync(victim).size / 2))
    const o = await open(dir)
    let read: Awaited<ReturnType<typeof readAll>> = []
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        read = await readAll(o)
        break
      } catch {
        await new Promise((r) => setTimeout(r, 100)) // a read that hit the damage: repaired meanwhile
      }
    }
    expect(read.length).toBeGreaterThan(0)
    expect((await o.stats()).damage.repairs).toBeGreaterThanOrEqual(1)
    const last = await o.append([rec(9999)])
    expect(seqsOf(await readAll(o, last - 1))).toEqual([last])
  })
})
