// Utf8Cache: a string encoded once and the same bytes handed out again; bounded.
import { describe, expect, test } from 'vitest'
import { Utf8Cache } from '../../../gateway/forward/utf8-cache.js'

describe('Utf8Cache', () => {
  test('gives the UTF-8 bytes of a string, the same Buffer each time', () => {
    const cache = new Utf8Cache()
    const a = cache.get('sensors/dév-1/telemetry')
    expect(a.equals(Buffer.from('sensors/dév-1/telemetry'))).toBe(true)
    expect(cache.get('sensors/dév-1/telemetry')).toBe(a)
  })

  test('when full it starts over: still the right bytes, encoded anew', () => {
    const cache = new Utf8Cache(2)
    const a = cache.get('a')
    cache.get('b')
    cache.get('c') // full: cleared, then "c"
    const again = cache.get('a')
    expect(again.toString()).toBe('a')
    expect(again).not.toBe(a)
  })
})
