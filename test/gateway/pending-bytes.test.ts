// The ingest bound's counter: over at the bound, its peak, and waiters woken one at a time while there
// is room, from a microtask (never from inside the caller that freed the room).
import { describe, expect, test } from 'vitest'
import { PendingBytes, pendingSize } from '../../gateway/pending-bytes.js'

describe('PendingBytes', () => {
  test('counts, keeps its peak, and is over at the bound', () => {
    const p = new PendingBytes(100)
    p.add(60)
    p.add(40)
    expect(p.over).toBe(true)
    p.sub(30)
    expect(p.over).toBe(false)
    expect(p.peak).toBe(100)
  })

  test('waiters go first come first served, one at a time while there is room, after the caller returns', async () => {
    const p = new PendingBytes(100)
    p.add(150)
    const woken: string[] = []
    // Each woken waiter takes room again, as a client reading its next chunk does.
    p.whenBelow(() => {
      woken.push('a')
      p.add(60)
    })
    p.whenBelow(() => woken.push('b'))
    p.sub(100) // 50: room
    expect(woken).toEqual([]) // not synchronously
    await Promise.resolve()
    expect(woken).toEqual(['a']) // a took the room (110): b waits
    p.sub(60)
    await Promise.resolve()
    expect(woken).toEqual(['a', 'b'])
  })

  test('whenBelow runs at once when there is room', () => {
    const p = new PendingBytes(10)
    let ran = false
    p.whenBelow(() => {
      ran = true
    })
    expect(ran).toBe(true)
  })

  test('a message counts its payload, topic and origin plus a fixed overhead', () => {
    expect(pendingSize({ topic: 'abc', payload: new Uint8Array(100), origin: 'dev' })).toBe(106 + 1100)
  })
})
