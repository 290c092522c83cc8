// Reconnect delays (exponential cap, full jitter) with an injected random source, and abortable sleep.
import { describe, expect, test } from 'vitest'
import { backoffDelay, sleep } from '../../../gateway/forward/backoff.js'

const at = (value: number) => () => value

describe('backoffDelay', () => {
  const opts = { minMs: 100, maxMs: 1000 }

  test('random 0 gives minMs at every attempt', () => {
    for (const attempt of [0, 1, 2, 5, 10, 31, 1000]) {
      expect(backoffDelay(attempt, { ...opts, random: at(0) })).toBe(100)
    }
  })

  test('random 1 gives the cap, which doubles with each attempt and stops at maxMs', () => {
    const caps = [0, 1, 2, 3, 4, 5, 10, 30, 31, 64, 10_000].map((attempt) =>
      backoffDelay(attempt, { ...opts, random: at(1) }),
    )
    expect(caps).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000, 1000, 1000, 1000])
  })

  test('in between, the delay is uniform over [minMs, cap]', () => {
    expect(backoffDelay(3, { ...opts, random: at(0.5) })).toBe(450) // 100 + 0.5 × (800 - 100)
    expect(backoffDelay(1, { ...opts, random: at(0.25) })).toBe(125)
    expect(backoffDelay(0, { ...opts, random: at(0.9) })).toBe(100) // the cap is minMs at attempt 0
  })

  test('with Math.random every delay stays within [minMs, cap] and the spread reaches the cap', () => {
    const big = { minMs: 500, maxMs: 30_000 }
    for (let attempt = 0; attempt < 40; attempt++) {
      const cap = Math.min(big.maxMs, big.minMs * 2 ** attempt)
      let highest = 0
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(attempt, big)
        expect(delay).toBeGreaterThanOrEqual(big.minMs)
        expect(delay).toBeLessThanOrEqual(cap)
        highest = Math.max(highest, delay)
      }
      if (attempt > 0) expect(highest).toBeGreaterThan(big.minMs + (cap - big.minMs) / 2)
    }
  })

  test('a huge attempt number neither overflows nor exceeds maxMs', () => {
    expect(backoffDelay(Number.MAX_SAFE_INTEGER, { minMs: 1, maxMs: 60_000, random: at(1) })).toBe(60_000)
  })
})

describe('sleep', () => {
  test('resolves after about the time asked', async () => {
    const start = performance.now()
    await sleep(30)
    expect(performance.now() - start).toBeGreaterThanOrEqual(25)
  })

  test('rejects with the abort reason as soon as the signal aborts', async () => {
    const ac = new AbortController()
    const start = performance.now()
    const slept = sleep(20_000, ac.signal)
    setTimeout(() => ac.abort(new Error('stopping')), 20)
    await expect(slept).rejects.toThrow('stopping')
    expect(performance.now() - start).toBeLessThan(5_000)
  })

  test('rejects at once when the signal has already aborted', async () => {
    const reason = new Error('already stopped')
    await expect(sleep(20_000, AbortSignal.abort(reason))).rejects.toBe(reason)
  })

  test('a signal aborted after the sleep ended changes nothing', async () => {
    const ac = new AbortController()
    await sleep(5, ac.signal)
    ac.abort(new Error('late'))
    expect(ac.signal.aborted).toBe(true)
  })
})
