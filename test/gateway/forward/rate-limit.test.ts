// maxRatePerSec: a token bucket with an injected clock. The clock only moves when the test moves it, so
// the number of messages let through is exact; the limiter's own re-check sleeps are a few real ms.
import { afterEach, describe, expect, test } from 'vitest'
import { RateLimiter } from '../../../gateway/forward/rate-limit.js'

class ManualClock {
  t = 5_000
  now = () => this.t
  advance(ms: number): void {
    this.t += ms
  }
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Takes tokens in a loop in the background, counting those granted, until stopped. */
function consumer(limiter: RateLimiter, max: number) {
  const ac = new AbortController()
  const state = { granted: 0, ended: undefined as unknown }
  const done = (async () => {
    for (let i = 0; i < max; i++) {
      await limiter.take(ac.signal)
      state.granted++
    }
  })().catch((err: unknown) => {
    state.ended = err
  })
  return { state, done, stop: () => ac.abort(new Error('stopped')) }
}

/** Waits until `count()` equals `expected` and stays there for `settleMs` (bounded by `timeoutMs`). */
async function settlesAt(count: () => number, expected: number, settleMs = 40, timeoutMs = 3_000) {
  const deadline = performance.now() + timeoutMs
  while (count() < expected && performance.now() < deadline) await tick(2)
  await tick(settleMs)
  return count()
}

const stops: (() => void)[] = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

describe('RateLimiter', () => {
  test('a burst of a tenth of a second passes at once; then one message per 1/perSec of clock time', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(100, clock.now) // burst 10
    const c = consumer(limiter, 1000)
    stops.push(c.stop)
    expect(await settlesAt(() => c.state.granted, 10)).toBe(10)

    clock.advance(100) // 10 more tokens
    expect(await settlesAt(() => c.state.granted, 20)).toBe(20)
    clock.advance(50)
    expect(await settlesAt(() => c.state.granted, 25)).toBe(25)
    clock.advance(9) // less than one message's worth
    expect(await settlesAt(() => c.state.granted, 25)).toBe(25)
    clock.advance(1) // now a whole one
    expect(await settlesAt(() => c.state.granted, 26)).toBe(26)
  })

  test('idle time does not bank more than one burst', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(200, clock.now) // burst 20
    const c = consumer(limiter, 1000)
    stops.push(c.stop)
    expect(await settlesAt(() => c.state.granted, 20)).toBe(20)
    clock.advance(60_000) // a minute idle is still only one burst
    expect(await settlesAt(() => c.state.granted, 40)).toBe(40)
  })

  test('over a simulated second it lets through burst + perSec messages, never more', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(50, clock.now) // burst 5
    const c = consumer(limiter, 1000)
    stops.push(c.stop)
    await settlesAt(() => c.state.granted, 5)
    for (let ms = 0; ms < 1000; ms += 100) {
      clock.advance(100)
      await settlesAt(() => c.state.granted, 5 + ((ms + 100) * 50) / 1000, 5)
    }
    expect(await settlesAt(() => c.state.granted, 55)).toBe(55)
  })

  test('a rate below 10/s still allows one message at a time', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(2, clock.now) // burst max(1, 0.2) = 1
    const c = consumer(limiter, 1000)
    stops.push(c.stop)
    expect(await settlesAt(() => c.state.granted, 1)).toBe(1)
    clock.advance(499)
    expect(await settlesAt(() => c.state.granted, 1)).toBe(1)
    clock.advance(1)
    expect(await settlesAt(() => c.state.granted, 2)).toBe(2)
  })

  test('a waiting take() rejects with the abort reason when its signal aborts', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(10, clock.now) // burst 1
    await limiter.take()
    const ac = new AbortController()
    const waiting = limiter.take(ac.signal)
    await tick(20)
    ac.abort(new Error('shutting down'))
    await expect(waiting).rejects.toThrow('shutting down')
    await expect(limiter.take(AbortSignal.abort(new Error('already')))).rejects.toThrow('already')
  })

  test('with the real clock, pacing holds (a short, bounded run)', async () => {
    const limiter = new RateLimiter(200) // burst 20, then 5 ms apart
    const start = performance.now()
    for (let i = 0; i < 40; i++) await limiter.take()
    const elapsed = performance.now() - start
    expect(elapsed).toBeGreaterThanOrEqual(90) // 20 after the burst need ≥ 100 ms (timer slack allowed)
    expect(elapsed).toBeLessThan(3_000)
  })
})
