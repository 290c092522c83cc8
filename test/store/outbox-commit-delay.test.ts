// commitDelayMs (fsync mode): appends wait up to that long to share an fsync — fewer fsyncs for sparse
// loads — and are still acknowledged only after the fsync that holds them. flush() and close() do not
// wait for the delay.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { type BatchWriter, Outbox, type OutboxOptions } from '../../store/outbox.js'
import { NO_DISK_GUARD, rec, sleep } from '../helpers/outbox.js'
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

/** A writer that notes when each synced batch finished writing. */
function syncLog() {
  const synced: number[] = []
  const writeBatch: BatchWriter = async (batch, options) => {
    await batch.write(options)
    if (options.sync) synced.push(performance.now())
  }
  return { synced, writeBatch }
}

describe('commitDelayMs', () => {
  test('sparse appends 3 ms apart share fsyncs; each is acknowledged after the fsync holding it', async () => {
    const { synced, writeBatch } = syncLog()
    const outbox = await open({ commitDelayMs: 40, writeBatch })
    const acked: Array<{ at: number; sent: number }> = []
    const appends: Array<Promise<void>> = []
    for (let i = 1; i <= 10; i++) {
      const sent = performance.now()
      appends.push(outbox.append([rec(i)]).then(() => void acked.push({ at: performance.now(), sent })))
      await sleep(3)
    }
    await Promise.all(appends)
    expect((await outbox.stats()).writes.synced).toBeLessThanOrEqual(3) // not 10
    for (const a of acked) {
      expect(synced.some((t) => t <= a.at)).toBe(true)
      expect(a.at - a.sent).toBeLessThan(40 + 100) // the delay, plus scheduling slack on a busy machine
    }
  })

  test('without a delay an append alone is written and fsync-ed at once, waiting for no company', async () => {
    const outbox = await open({ commitDelayMs: 0 })
    for (let i = 1; i <= 10; i++) {
      await outbox.append([rec(i)]) // one at a time: nothing to share an fsync with
      await sleep(3)
    }
    expect((await outbox.stats()).writes.synced).toBe(10)
  })

  test('enough appends at once (256 records) are written without waiting out the delay', async () => {
    const { synced, writeBatch } = syncLog()
    const outbox = await open({ commitDelayMs: 5_000, writeBatch })
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 300 }, (_, i) => outbox.append([rec(i)])))
    expect(performance.now() - t0).toBeLessThan(2_000)
    expect(synced.length).toBeGreaterThanOrEqual(1)
    // The rest, fewer than 256, waited for company: the delay still holds for a sparse remainder.
    const late = outbox.append([rec(300)])
    const raced = await Promise.race([late.then(() => 'written'), sleep(300).then(() => 'waiting')])
    expect(raced).toBe('waiting')
    await outbox.flush()
    await late
  })

  test('flush() and close() write at once, without waiting for the delay', async () => {
    const outbox = await open({ commitDelayMs: 5_000 })
    const appended = outbox.append([rec(1)])
    const started = performance.now()
    await outbox.flush()
    expect(await appended).toBe(1)
    const pending = outbox.append([rec(2)])
    await outbox.close()
    expect(await pending).toBe(2)
    expect(performance.now() - started).toBeLessThan(2_000)
  })

  test('batch durability ignores the delay (its writes are not fsync-ed one by one anyway)', async () => {
    const outbox = await open({ durability: 'batch', commitDelayMs: 5_000 })
    const started = performance.now()
    expect(await outbox.append([rec(1)])).toBe(1)
    expect(performance.now() - started).toBeLessThan(1_000)
  })
})
