// Limits of the outbox: whenFull reject / drop-oldest with exact counts, and maxAgeSec expiry.
// minFreeDiskBytes and reserveBytes are 0 throughout so the disk guard never interferes.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import {
  eventually,
  expectOutboxError,
  logSize,
  NO_DISK_GUARD,
  payloadsOf,
  range,
  readAll,
  rec,
  seqsOf,
} from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(options: Partial<OutboxOptions> = {}, dir = join(tempDir(), 'data')): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD, ...options })
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

/** Records of equal log size (payloads `msg-10`…`msg-99`), so byte limits are exact multiples. */
const sameSize = (i: number) => rec(i, { topic: 't', origin: 'o' })
const SIZE = logSize(sameSize(10))

describe('whenFull: reject', () => {
  test('maxMessages refuses with OUTPOST_OUTBOX_FULL reason messages and counts the records', async () => {
    const outbox = await open({ whenFull: 'reject', maxMessages: 5 })
    outbox.cursor('up')
    await outbox.append(range(1, 5).map((i) => rec(i)))
    const err = await expectOutboxError(outbox.append([rec(6)]), 'OUTPOST_OUTBOX_FULL')
    expect(err.reason).toBe('messages')
    expect(err.canRetry).toBe(true)
    await expectOutboxError(outbox.append([rec(6), rec(7)]), 'OUTPOST_OUTBOX_FULL')
    await outbox.flush() // a rejection settles before the batch that carries its counter is written

    let stats = await outbox.stats()
    expect(stats.counters).toMatchObject({ rejectedMessages: 3, rejectedBytes: 0, evicted: 0 })
    expect(stats).toMatchObject({ lastSeq: 5, messages: 5 })
    expect(payloadsOf(await readAll(outbox))).toEqual(range(1, 5).map((i) => `msg-${i}`))

    // Space comes back when the upstream moves on.
    outbox.commit('up', 2)
    expect(await outbox.append([rec(6), rec(7)])).toBe(6)
    stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 3, lastSeq: 7, messages: 5 })
  })

  test('maxBytes refuses with reason bytes and counts the records', async () => {
    const outbox = await open({ whenFull: 'reject', maxBytes: 3 * SIZE + Math.floor(SIZE / 2) })
    outbox.cursor('up')
    await outbox.append(range(10, 12).map(sameSize))
    const err = await expectOutboxError(outbox.append([sameSize(13)]), 'OUTPOST_OUTBOX_FULL')
    expect(err.reason).toBe('bytes')
    await expectOutboxError(outbox.append([sameSize(13), sameSize(14)]), 'OUTPOST_OUTBOX_FULL')
    await outbox.flush()
    const stats = await outbox.stats()
    expect(stats.counters).toMatchObject({ rejectedBytes: 3, rejectedMessages: 0 })
    expect(stats).toMatchObject({ messages: 3, bytes: 3 * SIZE })
    expect(payloadsOf(await readAll(outbox))).toEqual(['msg-10', 'msg-11', 'msg-12'])

    outbox.commit('up', 1)
    expect(await outbox.append([sameSize(13)])).toBe(4)
  })

  // Issue #12: the limit is "at most maxBytes", so the boundary itself must be tested, to the byte.
  test('maxBytes: an append that fills the outbox exactly is accepted; one byte more is refused', async () => {
    const bigger = sameSize(100) // `msg-100`: one byte more than `msg-10`
    expect(logSize(bigger)).toBe(SIZE + 1)

    const outbox = await open({ whenFull: 'reject', maxBytes: 3 * SIZE })
    outbox.cursor('up')
    await outbox.append([sameSize(10), sameSize(11)])
    const err = await expectOutboxError(outbox.append([bigger]), 'OUTPOST_OUTBOX_FULL')
    expect(err.reason).toBe('bytes')
    expect(await outbox.append([sameSize(12)])).toBe(3) // exactly 3 × SIZE
    const stats = await outbox.stats()
    expect(stats).toMatchObject({ messages: 3, bytes: 3 * SIZE, maxBytes: 3 * SIZE })
    expect(stats.counters.rejectedBytes).toBe(1)

    // The same boundary for a single append into an empty outbox.
    const exact = await open({ whenFull: 'reject', maxBytes: SIZE })
    expect(await exact.append([sameSize(10)])).toBe(1)
    const tight = await open({ whenFull: 'reject', maxBytes: SIZE })
    await expectOutboxError(tight.append([bigger]), 'OUTPOST_OUTBOX_RECORD_TOO_LARGE')
  })

  test('appends racing for the last slots: the earlier calls win, the later ones are refused', async () => {
    const outbox = await open({ whenFull: 'reject', maxMessages: 5 })
    const results = await Promise.allSettled(range(1, 8).map((i) => outbox.append([rec(i)])))
    expect(results.map((r) => r.status)).toEqual([
      ...Array(5).fill('fulfilled'),
      ...Array(3).fill('rejected'),
    ])
    expect(results.slice(0, 5).map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual(range(1, 5))
    for (const r of results.slice(5))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ reason: 'messages' })
    await outbox.flush()
    expect((await outbox.stats()).counters.rejectedMessages).toBe(3)
    expect(payloadsOf(await readAll(outbox))).toEqual(range(1, 5).map((i) => `msg-${i}`))
  })

  test('one append larger than the whole outbox fails with OUTPOST_OUTBOX_RECORD_TOO_LARGE', async () => {
    const outbox = await open({ maxBytes: 2 * SIZE })
    const err = await expectOutboxError(
      outbox.append(range(10, 12).map(sameSize)),
      'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
    )
    expect(err.canRetry).toBe(false)
    expect(await outbox.append([sameSize(13)])).toBe(1)
  })
})

describe('whenFull: drop-oldest', () => {
  test('maxMessages evicts the oldest, keeps the newest, counts exactly', async () => {
    const outbox = await open({ whenFull: 'drop-oldest', maxMessages: 5 })
    for (let i = 1; i <= 8; i++) expect(await outbox.append([rec(i)])).toBe(i)
    expect(await outbox.append([rec(9), rec(10)])).toBe(9)
    const stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 6, lastSeq: 10, messages: 5 })
    expect(stats.counters).toMatchObject({ evicted: 5, rejectedMessages: 0 })
    expect(payloadsOf(await readAll(outbox))).toEqual(range(6, 10).map((i) => `msg-${i}`))
  })

  test('maxBytes evicts just enough of the oldest records', async () => {
    const outbox = await open({ whenFull: 'drop-oldest', maxBytes: 4 * SIZE })
    for (let i = 10; i <= 19; i++) await outbox.append([sameSize(i)])
    const stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 7, lastSeq: 10, messages: 4, bytes: 4 * SIZE })
    expect(stats.counters.evicted).toBe(6)
    expect(payloadsOf(await readAll(outbox))).toEqual(['msg-16', 'msg-17', 'msg-18', 'msg-19'])
  })

  test('maxBytes: an append that fills the outbox exactly evicts nothing', async () => {
    const outbox = await open({ whenFull: 'drop-oldest', maxBytes: 3 * SIZE })
    for (let i = 10; i <= 12; i++) await outbox.append([sameSize(i)])
    const stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 1, lastSeq: 3, bytes: 3 * SIZE })
    expect(stats.counters.evicted).toBe(0)
    await outbox.append([sameSize(13)])
    expect((await outbox.stats()).counters.evicted).toBe(1)
  })

  test('eviction inside one group-committed batch (records appended and evicted together)', async () => {
    const outbox = await open({ whenFull: 'drop-oldest', maxBytes: 5 * SIZE })
    // Ten concurrent appends of two records each share a batch; the first fifteen never survive it.
    const firsts = await Promise.all(
      range(0, 9).map((k) => outbox.append([sameSize(10 + 2 * k), sameSize(11 + 2 * k)])),
    )
    expect(firsts).toEqual(range(0, 9).map((k) => 1 + 2 * k))
    const stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 16, lastSeq: 20, messages: 5, bytes: 5 * SIZE })
    expect(stats.counters.evicted).toBe(15)
    expect(seqsOf(await readAll(outbox))).toEqual(range(16, 20))
    expect(payloadsOf(await readAll(outbox))).toEqual(range(25, 29).map((i) => `msg-${i}`))
  })

  // Evictions must be as durable as the appends that caused them: after a reopen the outbox has to
  // agree with what it said before (firstSeq, messages, bytes, counters.evicted) and keep working.
  test.each([
    ['maxMessages', { maxMessages: 5 }],
    ['maxBytes', { maxBytes: 5 * SIZE }],
  ])('evictions (%s) survive a close and reopen in fsync mode', async (_, limit) => {
    const dir = join(tempDir(), 'data')
    const options: Partial<OutboxOptions> = { whenFull: 'drop-oldest', durability: 'fsync', ...limit }
    const outbox = await open(options, dir)
    for (let i = 10; i <= 21; i++) await outbox.append([sameSize(i)])
    const before = await outbox.stats()
    expect(before).toMatchObject({ firstSeq: 8, lastSeq: 12, messages: 5, bytes: 5 * SIZE })
    expect(before.counters.evicted).toBe(7)
    await outbox.close()

    const again = await open(options, dir)
    const after = await again.stats()
    expect({ firstSeq: after.firstSeq, messages: after.messages, bytes: after.bytes }).toEqual({
      firstSeq: 8,
      messages: 5,
      bytes: 5 * SIZE,
    })
    expect(after.counters.evicted).toBe(7)
    expect(await again.append([sameSize(22)])).toBe(13)
    expect(payloadsOf(await readAll(again))).toEqual(range(18, 22).map((i) => `msg-${i}`))
  })
})

describe('maxAgeSec', () => {
  test('records older than maxAgeSec by the injected clock expire, newer ones stay', async () => {
    let clock = 5_000_000
    const outbox = await open({ maxAgeSec: 1, now: () => clock }) // expiry runs every 250 ms
    outbox.cursor('up')
    await outbox.append(range(1, 3).map((i) => rec(i, { ts: clock - 5_000 })))
    await outbox.append(range(4, 5).map((i) => rec(i, { ts: clock - 100 })))
    expect((await outbox.stats()).cursors[0]?.oldestAgeMs).toBe(5_000)

    const expired3 = await eventually(async () => (await outbox.stats()).counters.expired >= 3)
    expect(expired3, 'the three old records expired within 10 s').toBe(true)
    let stats = await outbox.stats()
    expect(stats.counters.expired).toBe(3)
    expect(stats).toMatchObject({ firstSeq: 4, messages: 2 })
    expect(stats.cursors[0]).toMatchObject({ position: 0, backlogMessages: 2, oldestAgeMs: 100 })
    expect(payloadsOf(await readAll(outbox))).toEqual(['msg-4', 'msg-5'])

    clock += 2_000 // now the rest are too old as well
    const expired5 = await eventually(async () => (await outbox.stats()).counters.expired >= 5)
    expect(expired5, 'the other two expired within 10 s').toBe(true)
    stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 6, lastSeq: 5, messages: 0 })
    expect(stats.counters.expired).toBe(5)
    expect(await outbox.read(0)).toEqual([])
  })
})
