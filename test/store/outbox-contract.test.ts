// Contract of the outbox: order, independent cursors, retention, reopen, durability modes, lifecycle.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import {
  expectOutboxError,
  NO_DISK_GUARD,
  payloadsOf,
  range,
  readAll,
  rec,
  seqsOf,
  sleep,
  within,
} from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(options: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ dir: join(tempDir(), 'data'), ...NO_DISK_GUARD, ...options })
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

describe('order', () => {
  test('concurrent appenders get contiguous, increasing seqs in call order', async () => {
    const outbox = await open()
    const sizes = [1, 3, 2, 5, 1, 4, 1, 2]
    const batches: ReturnType<typeof rec>[][] = []
    let n = 0
    for (const size of sizes) {
      batches.push(range(n + 1, n + size).map((i) => rec(i)))
      n += size
    }
    // Half are called in one tick, the rest while the first write is in flight: both join batches in order.
    const firsts = batches.slice(0, 4).map((b) => outbox.append(b))
    await sleep(0)
    firsts.push(...batches.slice(4).map((b) => outbox.append(b)))
    const seqs = await Promise.all(firsts)

    let expected = 1
    for (const [i, first] of seqs.entries()) {
      expect(first, `append #${i}`).toBe(expected)
      expected += sizes[i] as number
    }
    expect(outbox.lastSeq).toBe(n)
    const all = await readAll(outbox)
    expect(seqsOf(all)).toEqual(range(1, n))
    expect(payloadsOf(all)).toEqual(range(1, n).map((i) => `msg-${i}`))
  })

  test('read pages in order, honours maxRecords, and returns one record even above maxBytes', async () => {
    const outbox = await open()
    for (let i = 1; i <= 25; i++) await outbox.append([rec(i)])
    const pages: number[][] = []
    for (let after = 0, guard = 0; guard < 10; guard++) {
      const page = await outbox.read(after, { maxRecords: 7 })
      if (page.length === 0) break
      pages.push(seqsOf(page))
      after = page[page.length - 1]!.seq
    }
    expect(pages).toEqual([range(1, 7), range(8, 14), range(15, 21), range(22, 25)])
    expect(seqsOf(await outbox.read(10, { maxBytes: 1 }))).toEqual([11])
    expect(await outbox.read(25)).toEqual([])
  })

  test('waitForAppend resolves on a later append and rejects when its signal aborts', async () => {
    const outbox = await open()
    await outbox.append([rec(1)])
    await outbox.waitForAppend(0) // already there: resolves at once
    const waiting = outbox.waitForAppend(1)
    expect(await within(waiting, 50, 'pending')).toBe('pending')
    await outbox.append([rec(2)])
    expect(await within(waiting, 5_000, 'pending')).toBeUndefined()

    const ac = new AbortController()
    const aborted = outbox.waitForAppend(2, ac.signal)
    ac.abort(new Error('stop waiting'))
    await expect(aborted).rejects.toThrow('stop waiting')
  })
})

describe('group commit', () => {
  test('appends made in one tick share one fsync', async () => {
    const outbox = await open()
    await Promise.all(range(1, 100).map((i) => outbox.append([rec(i)])))
    const { writes } = await outbox.stats()
    expect(outbox.lastSeq).toBe(100)
    expect(writes.synced).toBe(1)
  })

  test('devices that answer each acknowledgement with their next message keep sharing fsyncs', async () => {
    // Eight devices, one message in flight each, answering an acknowledgement after 1..8 event-loop
    // turns (as over a network, where the answers come back spread out). Without waiting for them, the
    // writer starts on the first answer and splits the devices into groups that take turns.
    const outbox = await open()
    const DEVICES = 8
    const ROUNDS = 40
    let sent = 0
    const turns = (n: number, then: () => void): void => {
      if (n === 0) then()
      else setImmediate(() => turns(n - 1, then))
    }
    await Promise.all(
      range(1, DEVICES).map(
        (device) =>
          new Promise<void>((resolve, reject) => {
            let round = 0
            const next = (): void => {
              if (round++ === ROUNDS) {
                resolve()
                return
              }
              outbox.appendOne(rec(++sent, { origin: `device-${device}` }), (err) =>
                err ? reject(err) : turns(device, next),
              )
            }
            next()
          }),
      ),
    )
    const { writes } = await outbox.stats()
    expect(outbox.lastSeq).toBe(DEVICES * ROUNDS)
    // Every device in every fsync would be 40 fsyncs; groups taking turns, 80 or more.
    expect(writes.synced).toBeLessThanOrEqual(ROUNDS * 1.5)
  })
})

describe('cursors', () => {
  test('two cursors move independently; stats show each backlog', async () => {
    const outbox = await open()
    expect(outbox.cursor('cloud')).toBe(0)
    expect(outbox.cursor('lake')).toBe(0)
    for (let i = 1; i <= 10; i++) await outbox.append([rec(i)])
    const all = await readAll(outbox)
    const bytesAfter = (pos: number) => all.filter((r) => r.seq > pos).reduce((sum, r) => sum + r.size, 0)

    outbox.commit('cloud', 7)
    await outbox.flush()
    expect(outbox.cursor('cloud')).toBe(7)
    expect(outbox.cursor('lake')).toBe(0)
    expect(seqsOf(await outbox.read(outbox.cursor('lake')))).toEqual(range(1, 10))
    expect(seqsOf(await outbox.read(outbox.cursor('cloud')))).toEqual(range(8, 10))

    outbox.commit('lake', 4)
    outbox.commit('cloud', 3) // backwards: ignored
    await outbox.flush()
    const stats = await outbox.stats()
    const byName = Object.fromEntries(stats.cursors.map((c) => [c.name, c]))
    expect(byName['cloud']).toMatchObject({ position: 7, backlogMessages: 3, backlogBytes: bytesAfter(7) })
    expect(byName['lake']).toMatchObject({ position: 4, backlogMessages: 6, backlogBytes: bytesAfter(4) })
    expect(outbox.cursorNames().sort()).toEqual(['cloud', 'lake'])
  })

  test('commit past the end is clamped to lastSeq; a cursor added later starts at the oldest record', async () => {
    const outbox = await open()
    outbox.cursor('a')
    for (let i = 1; i <= 5; i++) await outbox.append([rec(i)])
    outbox.commit('a', 100)
    expect(outbox.cursor('a')).toBe(5)
    await outbox.append([rec(6)])
    expect(outbox.cursor('late')).toBe(5) // records 1-5 are gone; the newcomer gets everything still kept
    expect(seqsOf(await outbox.read(outbox.cursor('late')))).toEqual([6])
  })
})

describe('retention', () => {
  test('records below the lowest cursor are deleted, records above it are kept', async () => {
    const outbox = await open()
    outbox.cursor('fast')
    outbox.cursor('slow')
    for (let i = 1; i <= 20; i++) await outbox.append([rec(i)])
    outbox.commit('fast', 18)
    outbox.commit('slow', 6)
    await outbox.flush()

    expect(outbox.firstSeq).toBe(7)
    expect(seqsOf(await readAll(outbox))).toEqual(range(7, 20)) // read(0) starts at firstSeq
    let stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 7, lastSeq: 20, messages: 14 })

    // Removing the slow upstream drops its backlog (counted) and lets retention follow the fast one.
    expect(outbox.removeCursor('slow')).toBe(14)
    await outbox.flush()
    expect(seqsOf(await readAll(outbox))).toEqual([19, 20])
    stats = await outbox.stats()
    expect(stats).toMatchObject({ firstSeq: 19, messages: 2 })
    expect(stats.counters.upstreamRemoved).toBe(14)
  })

  test('without cursors nothing is deleted', async () => {
    const outbox = await open()
    for (let i = 1; i <= 12; i++) await outbox.append([rec(i)])
    await outbox.flush()
    expect(outbox.firstSeq).toBe(1)
    expect((await outbox.stats()).messages).toBe(12)
    expect(seqsOf(await readAll(outbox))).toEqual(range(1, 12))
  })

  test('a cursor committed to the end empties the log; seqs keep counting', async () => {
    const outbox = await open()
    outbox.cursor('only')
    const first = await outbox.append(range(1, 9).map((i) => rec(i)))
    outbox.commit('only', first + 8)
    await outbox.flush()
    expect(await outbox.read(0)).toEqual([])
    expect(await outbox.stats()).toMatchObject({ firstSeq: 10, lastSeq: 9, messages: 0, bytes: 0 })
    expect(await outbox.append([rec(10)])).toBe(10)
  })
})

describe('reopen', () => {
  test('keeps the sequence, the retained range, cursor positions and counters', async () => {
    const dir = join(tempDir(), 'data')
    const first = await Outbox.open({ dir, ...NO_DISK_GUARD, maxMessages: 10 })
    opened.push(first)
    first.cursor('a')
    first.cursor('b')
    await first.append(range(1, 10).map((i) => rec(i)))
    await expectOutboxError(first.append([rec(11)]), 'OUTPOST_OUTBOX_FULL')
    first.commit('a', 8)
    first.commit('b', 3)
    await first.close()

    const again = await Outbox.open({ dir, ...NO_DISK_GUARD, maxMessages: 10 })
    opened.push(again)
    expect([again.firstSeq, again.lastSeq]).toEqual([4, 10])
    expect(again.cursorNames().sort()).toEqual(['a', 'b'])
    expect([again.cursor('a'), again.cursor('b')]).toEqual([8, 3])
    expect((await again.stats()).counters.rejectedMessages).toBe(1)
    expect(await again.append([rec(11), rec(12)])).toBe(11)
    expect(payloadsOf(await readAll(again))).toEqual(range(4, 12).map((i) => `msg-${i}`))
  })
})

describe.each(['fsync', 'batch', 'none'] as const)('durability %s', (durability) => {
  test('appends read back in order, before and after a reopen', async () => {
    const dir = join(tempDir(), 'data')
    const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD, durability, syncIntervalMs: 20 })
    opened.push(outbox)
    const seqs = await Promise.all(range(1, 60).map((i) => outbox.append([rec(i)])))
    expect(seqs).toEqual(range(1, 60))
    expect(payloadsOf(await readAll(outbox))).toEqual(range(1, 60).map((i) => `msg-${i}`))
    expect((await outbox.stats()).durability).toBe(durability)
    await outbox.close()

    const again = await Outbox.open({ dir, ...NO_DISK_GUARD, durability })
    opened.push(again)
    expect(payloadsOf(await readAll(again))).toEqual(range(1, 60).map((i) => `msg-${i}`))
    expect(await again.append([rec(61)])).toBe(61)
  })
})

describe('lifecycle', () => {
  test('a closed outbox rejects appends and reads with OUTPOST_OUTBOX_CLOSED', async () => {
    const dir = join(tempDir(), 'data')
    const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
    opened.push(outbox)
    const beforeClose = outbox.append([rec(1)]) // handed over before close(): still written
    await outbox.close()
    await outbox.close() // idempotent
    expect(await beforeClose).toBe(1)
    const err = await expectOutboxError(outbox.append([rec(2)]), 'OUTPOST_OUTBOX_CLOSED')
    expect(err.canRetry).toBe(false)
    await expectOutboxError(outbox.read(0), 'OUTPOST_OUTBOX_CLOSED')
    expect(() => outbox.cursor('x')).toThrow(expect.objectContaining({ code: 'OUTPOST_OUTBOX_CLOSED' }))
    expect((await outbox.stats()).state).toBe('closed')

    const again = await Outbox.open({ dir, ...NO_DISK_GUARD })
    opened.push(again)
    expect(payloadsOf(await readAll(again))).toEqual(['msg-1'])
  })

  test('a second open of the same dir fails with OUTPOST_OUTBOX_LOCKED until the first closes', async () => {
    const dir = join(tempDir(), 'data')
    const first = await Outbox.open({ dir, ...NO_DISK_GUARD })
    opened.push(first)
    await first.append([rec(1)])
    const err = await expectOutboxError(Outbox.open({ dir, ...NO_DISK_GUARD }), 'OUTPOST_OUTBOX_LOCKED')
    expect(err.canRetry).toBe(true)
    expect(await first.append([rec(2)])).toBe(2) // the failed open did not disturb the first
    await first.close()

    const second = await Outbox.open({ dir, ...NO_DISK_GUARD })
    opened.push(second)
    expect(payloadsOf(await readAll(second))).toEqual(['msg-1', 'msg-2'])
  })
})
