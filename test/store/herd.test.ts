// Herding (store/herd.ts): after a small fsync'd batch, the writer waits (at most HERD_WINDOW_MS) for as
// many appends as the batch had appenders.
import { describe, expect, test } from 'vitest'
import { HERD_MAX_APPENDERS, HERD_WINDOW_MS, Herd } from '../../store/herd.js'

describe('herd', () => {
  test('follows only fsync-ed batches of 2..HERD_MAX_APPENDERS appends', () => {
    expect(Herd.follows(1, true)).toBe(false)
    expect(Herd.follows(2, true)).toBe(true)
    expect(Herd.follows(HERD_MAX_APPENDERS, true)).toBe(true)
    expect(Herd.follows(HERD_MAX_APPENDERS + 1, true)).toBe(false)
    expect(Herd.follows(10, false)).toBe(false)
  })

  test('a herd is in once as many appends arrived as expected; wait() resolves then', async () => {
    // (The window is 0.4 ms: this checks the outcome, not that the window was still open in between.)
    const herd = new Herd()
    herd.expect(2)
    const waited = herd.wait()
    herd.arrived()
    herd.arrived()
    expect(herd.pending).toBe(false)
    await waited
  })

  test('the wait ends with the window even when the appenders do not come back', async () => {
    const herd = new Herd()
    herd.expect(5)
    const started = performance.now()
    await herd.wait()
    expect(herd.pending).toBe(false)
    expect(performance.now() - started).toBeGreaterThanOrEqual(HERD_WINDOW_MS * 0.9)
  })

  test('a stopped herd expects nothing', () => {
    const herd = new Herd()
    herd.stop()
    herd.expect(3)
    expect(herd.pending).toBe(false)
  })
})
