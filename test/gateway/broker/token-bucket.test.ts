// The token bucket behind broker.limits: a burst goes at once, then the rate; a debt says how long to
// stop reading; a client that paused has "rested" (its bucket half full again).
import { describe, expect, test } from 'vitest'
import { TokenBucket } from '../../../gateway/broker/token-bucket.js'

describe('TokenBucket', () => {
  test('the burst is free, then each token beyond it costs 1/rate seconds of waiting', () => {
    const bucket = new TokenBucket(100, 10, 0) // 100 a second, burst 10
    for (let i = 0; i < 10; i++) expect(bucket.take(1, 0)).toBe(0)
    expect(bucket.take(1, 0)).toBeCloseTo(10) // 1 token short: 10 ms
    expect(bucket.take(49, 0)).toBeCloseTo(500) // 50 short: half a second
    expect(bucket.take(0, 500)).toBe(0) // repaid by then
  })

  test('a whole read taken at once goes into debt by what exceeds the burst', () => {
    const bucket = new TokenBucket(1000, 2000, 0)
    expect(bucket.take(5000, 0)).toBeCloseTo(3000)
    expect(bucket.take(0, 1000)).toBeCloseTo(2000)
  })

  test('it refills at the rate, never above its capacity', () => {
    const bucket = new TokenBucket(10, 5, 0)
    bucket.take(5, 0)
    expect(bucket.rested(200)).toBe(false) // 2 of 5
    expect(bucket.rested(300)).toBe(true) // 3 of 5
    expect(bucket.take(5, 60_000)).toBe(0) // capped at 5, not 600
    expect(bucket.take(1, 60_000)).toBeCloseTo(100)
  })
})
