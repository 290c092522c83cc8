// The ack window: acks arrive in any order, the acked position only moves over the contiguous prefix,
// including across the internal compaction of its arrays.
import { describe, expect, test } from 'vitest'
import { AckWindow } from '../../../gateway/forward/ack-window.js'
import { prng } from '../../helpers/prng.js'

describe('AckWindow', () => {
  test('out-of-order acks move the position only over the contiguous acknowledged prefix', () => {
    const w = new AckWindow(10)
    const slots = [11, 12, 13, 14].map((seq) => w.push(seq))
    expect(w.size).toBe(4)
    expect(w.ack(slots[2] as number)).toBeUndefined()
    expect(w.ack(slots[1] as number)).toBeUndefined()
    expect(w.acked).toBe(10)
    expect(w.ack(slots[0] as number)).toBe(13) // 11, 12 and 13 are all done now
    expect(w.acked).toBe(13)
    expect(w.size).toBe(1)
    expect(w.ack(slots[3] as number)).toBe(14)
    expect(w.size).toBe(0)
  })

  test('oldest() is the oldest slot not acknowledged, across compaction', () => {
    const w = new AckWindow(0)
    expect(w.oldest()).toBeUndefined()
    const slots = Array.from({ length: 3000 }, (_, i) => w.push(i + 1))
    expect(w.oldest()).toBe(1)
    w.ack(slots[1] as number)
    expect(w.oldest()).toBe(1)
    for (const s of slots.slice(0, 2500)) w.ack(s)
    expect(w.oldest()).toBe(2501)
    for (const s of slots) w.ack(s)
    expect(w.oldest()).toBeUndefined()
  })

  test('sequence numbers need not be contiguous (records routed to other upstreams are skipped)', () => {
    const w = new AckWindow(0)
    const a = w.push(3)
    const b = w.push(9)
    const c = w.push(40)
    expect(w.ack(c)).toBeUndefined()
    expect(w.ack(a)).toBe(3)
    expect(w.ack(b)).toBe(40)
  })

  test('acking a slot twice, an old slot or an unknown slot changes nothing', () => {
    const w = new AckWindow(0)
    const a = w.push(1)
    const b = w.push(2)
    expect(w.ack(b)).toBeUndefined()
    expect(w.ack(b)).toBeUndefined()
    expect(w.ack(a)).toBe(2)
    expect(w.ack(a)).toBeUndefined()
    expect(w.ack(99)).toBeUndefined()
    expect(w.ack(-1)).toBeUndefined()
    expect(w.acked).toBe(2)
  })

  test('slots stay valid across compaction (more than 1024 acknowledged slots)', () => {
    const w = new AckWindow(0)
    const slots: number[] = []
    for (let seq = 1; seq <= 3000; seq++) slots.push(w.push(seq))
    expect(slots[2999]).toBe(2999)
    // 1..1500 acknowledged in order: the window compacts its arrays somewhere past 1024.
    for (let i = 0; i < 1500; i++) expect(w.ack(slots[i] as number)).toBe(i + 1)
    expect(w.size).toBe(1500)
    // A hole at 1501: acks above it do not move the position, before or after more pushes.
    expect(w.ack(slots[1600] as number)).toBeUndefined()
    for (let seq = 3001; seq <= 3100; seq++) slots.push(w.push(seq))
    expect(slots[3099]).toBe(3099)
    for (let i = 1501; i < 1600; i++) expect(w.ack(slots[i] as number)).toBeUndefined()
    expect(w.acked).toBe(1500)
    expect(w.ack(slots[10] as number)).toBeUndefined() // long gone
    expect(w.ack(slots[1500] as number)).toBe(1601) // fills the hole: 1501..1601
    for (let i = 3099; i > 1601; i--) expect(w.ack(slots[i] as number)).toBeUndefined()
    expect(w.ack(slots[1601] as number)).toBe(3100)
    expect(w.size).toBe(0)
  })

  test.each([1, 2, 3, 4, 5])(
    'random interleavings of pushes and acks agree with a simple model (seed %i)',
    (seed) => {
      const random = prng(seed)
      const start = 1000
      const w = new AckWindow(start)
      // The model: every pushed entry with its ack flag, in push order.
      const model: { slot: number; seq: number; done: boolean }[] = []
      let nextSeq = start
      let prefix = 0 // entries model[0..prefix) are acknowledged
      let expectedAcked = start
      for (let step = 0; step < 12_000; step++) {
        const open = model.length - prefix
        if (open === 0 || (random() < 0.5 && open < 500)) {
          nextSeq += 1 + Math.floor(random() * 3)
          model.push({ slot: w.push(nextSeq), seq: nextSeq, done: false })
          continue
        }
        // Ack a random unacked entry near the front (so the prefix keeps moving and the window compacts).
        const i = prefix + Math.floor(random() ** 2 * open)
        const entry = model[i] as { slot: number; seq: number; done: boolean }
        const already = entry.done
        entry.done = true
        const before = expectedAcked
        while (prefix < model.length && (model[prefix] as { done: boolean }).done) {
          expectedAcked = (model[prefix] as { seq: number }).seq
          prefix++
        }
        const moved = w.ack(entry.slot)
        const where = `seed ${seed}, step ${step}`
        expect(moved, where).toBe(expectedAcked !== before && !already ? expectedAcked : undefined)
        expect(w.acked, where).toBe(expectedAcked)
        expect(w.size, where).toBe(model.length - prefix)
      }
      expect(prefix).toBeGreaterThan(3 * 1024) // the window compacted several times
    },
  )
})
