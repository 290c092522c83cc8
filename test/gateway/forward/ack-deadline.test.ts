// The acknowledgement deadline with real timers (short ones): it expires only when the oldest message
// in flight goes unanswered for timeoutMs, and re-arms itself instead of one timer per message.
import { describe, expect, test } from 'vitest'
import { AckDeadline } from '../../../gateway/forward/ack-deadline.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('AckDeadline', () => {
  test('expires once when nothing is answered for timeoutMs', async () => {
    let expired = 0
    const d = new AckDeadline(80, () => expired++)
    const t0 = performance.now()
    d.restart()
    while (expired === 0 && performance.now() - t0 < 2000) await sleep(5)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(75)
    await sleep(200)
    expect(expired).toBe(1)
    d.stop()
  })

  test('answers that keep coming within timeoutMs keep it from expiring', async () => {
    let expired = 0
    const d = new AckDeadline(80, () => expired++)
    d.restart()
    for (let i = 0; i < 10; i++) {
      await sleep(30)
      d.restart()
    }
    expect(expired).toBe(0)
    d.stop()
  })

  test('idle (nothing in flight) does not expire; the next restart counts from then', async () => {
    let expired = 0
    const d = new AckDeadline(60, () => expired++)
    d.restart()
    d.idle()
    await sleep(150)
    expect(expired).toBe(0)
    d.restart()
    await sleep(150)
    expect(expired).toBe(1)
    d.stop()
  })

  test('stop cancels it', async () => {
    let expired = 0
    const d = new AckDeadline(40, () => expired++)
    d.restart()
    d.stop()
    await sleep(100)
    expect(expired).toBe(0)
  })
})
