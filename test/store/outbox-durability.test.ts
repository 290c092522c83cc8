// Durability modes, seen at the one place they are decided: the LevelDB batch write (the outbox's
// injected `writeBatch`). Issue #12: a SIGKILL test cannot see a missing fsync (the page cache survives
// a process kill), and the `writes.synced` counter only says what the outbox believes it asked for. So
// these tests record every batch as it is handed to LevelDB, with its `sync` option, and check it
// against the moment each append is acknowledged (promise or appendOne callback).
//
// Which records a batch holds: the writer is called before the outbox adopts the batch (writeOnce
// builds it, writes it, then moves lastSeq), and batches are written one at a time, so batch i holds
// the records (lastSeq at its write, lastSeq at the next write]. Power-loss behaviour itself is
// tested in outbox-power-loss.test.ts.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import { eventually, NO_DISK_GUARD, range, rec, sleep } from '../helpers/outbox.js'
import { type RecordedWrite, RecordingWriter } from '../helpers/recording-writer.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(writer: RecordingWriter, options: Partial<OutboxOptions>): Promise<Outbox> {
  const outbox = await Outbox.open({
    dir: join(tempDir(), 'data'),
    ...NO_DISK_GUARD,
    ...options,
    writeBatch: writer.writeBatch,
  })
  writer.attach(outbox)
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

interface Ack {
  first: number
  count: number
  /** RecordingWriter tick when the appender was told. */
  tick: number
}

/**
 * A mixed load: bursts of concurrent append() and appendOne() calls of 1–3 records (so group commits
 * hold several appends), with a cursor moving in between (cursor-only batches). Returns every ack.
 */
async function load(outbox: Outbox, writer: RecordingWriter, rounds: number): Promise<Ack[]> {
  const acks: Ack[] = []
  let i = 0
  outbox.cursor('up')
  for (let round = 0; round < rounds; round++) {
    const calls: Promise<void>[] = []
    for (let k = 0; k < 6; k++) {
      if (k % 2 === 0) {
        const count = 1 + ((round + k) % 3)
        const records = range(i, i + count - 1).map((n) => rec(n))
        i += count
        calls.push(
          outbox.append(records).then((first) => {
            acks.push({ first, count, tick: writer.tick() })
          }),
        )
      } else {
        const record = rec(i++)
        calls.push(
          new Promise<void>((resolve, reject) => {
            outbox.appendOne(record, (err, first) => {
              if (err) return reject(err)
              acks.push({ first, count: 1, tick: writer.tick() })
              resolve()
            })
          }),
        )
      }
    }
    await Promise.all(calls)
    if (round % 3 === 2) await outbox.commit('up', outbox.lastSeq - 2) // a cursor-only batch
  }
  return acks
}

describe('durability fsync', () => {
  test('every batch holding appends is written with sync: true before any of its appends is acknowledged', async () => {
    // Each write is held a moment, so appends pile up into shared batches and an early ack would show.
    const writer = new RecordingWriter({ holdMs: 3 })
    const outbox = await open(writer, { durability: 'fsync' })
    const acks = await load(outbox, writer, 12)
    await outbox.flush()

    expect(acks.length).toBe(12 * 6)
    const withAppends = writer.writes.filter((w) => writer.seqsOf(w).length > 0)
    expect(withAppends.length, 'batches holding appends').toBeGreaterThan(0)
    const appendsIn = (w: RecordedWrite) => acks.filter((a) => writer.writeHolding(a.first) === w).length
    expect(
      withAppends.filter((w) => appendsIn(w) > 1).length,
      'some batches hold several appends (group commit)',
    ).toBeGreaterThan(0)
    expect(
      withAppends.filter((w) => !w.sync).map((w) => writer.summary(w)),
      'batches holding appends written without sync',
    ).toEqual([])

    for (const ack of acks) {
      for (const seq of range(ack.first, ack.first + ack.count - 1)) {
        const w = writer.writeHolding(seq)
        expect(w, `the batch holding record ${seq}`).toBeDefined()
        expect(w?.sync, `record ${seq}: its batch was synced`).toBe(true)
        expect(
          w?.doneTick,
          `record ${seq} was acknowledged (tick ${ack.tick}) only after its synced batch was written`,
        ).toBeLessThan(ack.tick)
      }
    }
  })
})

describe('durability batch', () => {
  const SYNC_INTERVAL_MS = 100
  // The interval timer, one batch write and a busy 2-core machine.
  const SLACK_MS = 400

  test('after unsynced appends, a synced write follows within syncIntervalMs', async () => {
    const writer = new RecordingWriter()
    const outbox = await open(writer, { durability: 'batch', syncIntervalMs: SYNC_INTERVAL_MS })
    let waited = 0
    for (let round = 0; round < 5; round++) {
      const acks = await load(outbox, writer, 2)
      // Acknowledged once written (synced or not: the interval may have fired meanwhile).
      for (const ack of acks) {
        expect(
          writer.writeHolding(ack.first)?.doneTick,
          `round ${round}: record ${ack.first} acknowledged after its write`,
        ).toBeLessThan(ack.tick)
      }
      const lastAppendWrite = writer.writes.filter((w) => writer.seqsOf(w).length > 0).at(-1)
      if (lastAppendWrite?.sync !== false) continue // synced at once: nothing to wait for
      waited++
      const unsyncedAt = lastAppendWrite.doneAt as number
      const synced = await eventually(() => writer.writes.some((w) => w.sync && w.startedAt >= unsyncedAt), {
        timeoutMs: 5_000,
        intervalMs: 10,
      })
      expect(synced, `round ${round}: a synced write after the unsynced appends`).toBe(true)
      const sync = writer.writes.find((w) => w.sync && w.startedAt >= unsyncedAt)
      expect(
        (sync?.startedAt as number) - unsyncedAt,
        `round ${round}: ms from the unsynced appends to the next synced write`,
      ).toBeLessThanOrEqual(SYNC_INTERVAL_MS + SLACK_MS)
    }
    expect(waited, 'rounds that ended with unsynced appends').toBeGreaterThan(0)
  })

  test('appends are acknowledged after an unsynced write; close() then writes synced', async () => {
    const writer = new RecordingWriter()
    // An interval longer than the test: only close() can sync.
    const outbox = await open(writer, { durability: 'batch', syncIntervalMs: 600_000 })
    const acks = await load(outbox, writer, 3)
    await sleep(50)
    expect(
      writer.writes.filter((w) => w.sync).map((w) => writer.summary(w)),
      'no synced write before close',
    ).toEqual([])
    for (const ack of acks) {
      expect(
        writer.writeHolding(ack.first)?.doneTick,
        `record ${ack.first} acknowledged after its (unsynced) write`,
      ).toBeLessThan(ack.tick)
    }
    const writesBefore = writer.writes.length
    await outbox.close()
    const after = writer.writes.slice(writesBefore)
    expect(
      after.some((w) => w.sync && w.doneTick !== undefined),
      'a synced write during close()',
    ).toBe(true)
  })
})
