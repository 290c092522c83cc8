// A failed write, through the writeBatch seam (the LevelDB write of each batch): the appends of the
// batch are refused and counted, the outbox reopens itself, and two races the issue suspected (#7) are
// settled: a batch reported as failed that LevelDB kept after all (it replays its log on reopen), and
// close() while a recovery is in progress.
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { type BatchWriter, Outbox, type OutboxOptions } from '../../store/outbox.js'
import { eventually, expectOutboxError, NO_DISK_GUARD, payloadsOf, readAll, rec } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD, ...options })
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

test('a batch reported as failed but kept by LevelDB is kept, and not counted as refused', async () => {
  const dir = join(tempDir(), 'data')
  let failNext = false
  const writeBatch: BatchWriter = async (batch, options) => {
    if (!failNext) return batch.write(options)
    failNext = false
    await batch.write({ sync: false }) // the data reached LevelDB's log…
    throw new Error('EIO: fsync failed') // …but the fsync "failed"
  }
  const o = await open(dir, { writeBatch })
  o.cursor('cloud')
  await o.append([rec(1)])
  failNext = true
  await expectOutboxError(o.append([rec(2)]), 'OUTPOST_OUTBOX_WRITE_FAILED')
  expect((await o.stats()).counters.writeFailed).toBe(1)

  expect(await eventually(async () => (await o.stats()).state === 'ok', { timeoutMs: 5_000 })).toBe(true)
  expect(o.lastSeq).toBe(2)
  expect(payloadsOf(await readAll(o))).toEqual(['msg-1', 'msg-2'])
  expect((await o.stats()).counters.writeFailed).toBe(0)
  expect(await o.append([rec(3)])).toBe(3) // no sequence number used twice
})

test('close() during a recovery resolves, and what was committed before is all there', async () => {
  const dir = join(tempDir(), 'data')
  let fail = false
  const writeBatch: BatchWriter = (batch, options) =>
    fail ? Promise.reject(new Error('EIO: write failed')) : batch.write(options)
  const o = await open(dir, { writeBatch })
  o.cursor('cloud')
  await o.append([rec(1), rec(2)])
  fail = true
  await expectOutboxError(o.append([rec(3)]), 'OUTPOST_OUTBOX_WRITE_FAILED')
  expect((await o.stats()).state).toBe('recovering')
  void o.commit('cloud', 1) // a cursor move waiting for the recovery
  fail = false
  await o.close() // races the recovery's reopen
  await expectOutboxError(o.append([rec(4)]), 'OUTPOST_OUTBOX_CLOSED')

  const again = await open(dir)
  expect(payloadsOf(await readAll(again, again.cursor('cloud')))).toEqual(
    again.cursor('cloud') === 1 ? ['msg-2'] : ['msg-1', 'msg-2'],
  )
  expect(again.lastSeq).toBe(2)
})
