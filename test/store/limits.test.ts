// The outbox's bounds (store/limits.ts), checked against a working state: an append that exactly fits
// is taken, one byte or one record more is refused (reject) or makes room (drop-oldest), refusals are
// counted by the limit that refused them.
import { describe, expect, test } from 'vitest'
import { DiskGuard } from '../../store/disk-guard.js'
import { EVICT, type LimitOptions, Limits } from '../../store/limits.js'
import { type LogState, zeroCounters } from '../../store/outbox-state.js'
import { tempDir } from '../helpers/tmp.js'

const state = (messages: number, bytes: number): LogState => ({
  firstSeq: 1,
  lastSeq: messages,
  firstSegment: 1,
  firstOffset: 0,
  endOffset: bytes,
})

function limits(options: Partial<LimitOptions> = {}) {
  const counters = zeroCounters()
  const disk = new DiskGuard({ dir: tempDir(), minFreeBytes: 0, reserveBytes: 0 })
  const l = new Limits(
    {
      maxBytes: 1000,
      maxMessages: 10,
      maxAgeSec: undefined,
      whenFull: 'reject',
      minFreeDiskBytes: 0,
      ...options,
    },
    disk,
    counters,
  )
  return { l, counters }
}

describe('limits', () => {
  test('an append that exactly fills maxBytes is taken; one byte more is refused and counted', () => {
    const { l, counters } = limits()
    expect(l.check({ count: 1, bytes: 100 }, state(5, 900))).toBeUndefined()
    const refusal = l.check({ count: 1, bytes: 101 }, state(5, 900))
    expect(refusal).toMatchObject({ code: 'OUTPOST_OUTBOX_FULL', reason: 'bytes' })
    expect(counters.rejectedBytes).toBe(1)
  })

  test('an append that exactly fills maxMessages is taken; one record more is refused and counted', () => {
    const { l, counters } = limits()
    expect(l.check({ count: 2, bytes: 10 }, state(8, 100))).toBeUndefined()
    expect(l.check({ count: 3, bytes: 10 }, state(8, 100))).toMatchObject({ reason: 'messages' })
    expect(counters.rejectedMessages).toBe(3)
  })

  test('drop-oldest asks to make room instead; keepFrom keeps the most it can', async () => {
    const { l } = limits({ whenFull: 'drop-oldest' })
    const s = state(10, 1000) // 10 records of 100 bytes
    expect(l.check({ count: 1, bytes: 100 }, s)).toBe(EVICT)
    const offsetOfSeq = async (offset: number) => Math.ceil(offset / 100) + 1 // record k starts at (k-1)*100
    expect(await l.keepFrom({ count: 1, bytes: 100 }, s, offsetOfSeq)).toBe(2) // one record goes
    expect(await l.keepFrom({ count: 1, bytes: 250 }, s, offsetOfSeq)).toBe(4) // three go
  })

  test('an append larger than the whole outbox is refused as too large, whatever whenFull says', () => {
    const { l } = limits({ whenFull: 'drop-oldest' })
    expect(l.check({ count: 1, bytes: 1001 }, state(0, 0))).toMatchObject({
      code: 'OUTPOST_OUTBOX_RECORD_TOO_LARGE',
    })
  })
})
