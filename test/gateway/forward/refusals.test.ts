// Issue #7, items 2 and 7: an MQTT 5 upstream that refuses a message with a PUBACK (or PUBREC) reason
// code. A permanent refusal moves the reading to the dead letters with its reason and frees its slot,
// so the readings behind it keep going, in order; a transient one is retried, in order, never skipped.
// The upstream is scripted (test/helpers/scripted-upstream.ts): mosquitto answers 0x87 only (see
// test/e2e/poison-messages.test.ts for that one against mosquitto).
import { describe, expect, test } from 'vitest'
import type { ForwarderStatus } from '../../../gateway/forward/mqtt-forwarder.js'
import { httpGet, readingsFrom, sample, seedOutbox, storeAfter } from '../../helpers/forwarding.js'
import { forwardingPerTest } from '../../helpers/forwarding-per-test.js'
import type { ScriptedUpstream } from '../../helpers/scripted-upstream.js'

const { scripted, gateway, cloud, reaches } = forwardingPerTest()

/** Sequence numbers the upstream acknowledged, first copies, in arrival order. */
function firstAcked(up: ScriptedUpstream, refused: ReadonlySet<number>): number[] {
  const seen = new Set<number>()
  const out: number[] = []
  for (const p of up.publishes) {
    if (p.seq === undefined || refused.has(p.seq) || seen.has(p.seq)) continue
    seen.add(p.seq)
    out.push(p.seq)
  }
  return out
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

describe('permanent refusals', () => {
  test('PUBACK 0x87: the reading is dead-lettered (not-authorized, code in detail), logged once, and the readings behind it arrive in order', async () => {
    const up = await scripted()
    up.answer = (p) => ({ ack: p.seq === 5 ? 0x87 : 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 20))
    const gw = await gateway(dataDir, up.url)

    expect(await reaches(gw, 20), 'the cursor passes the refused reading').toBe(true)
    expect(firstAcked(up, new Set([5]))).toEqual([...range(1, 4), ...range(6, 20)])
    expect(up.seqs().filter((s) => s === 5)).toHaveLength(1) // refused once, never resent
    const status = await gw.gateway.status()
    expect(status.outbox.deadLetters).toMatchObject({
      messages: 1,
      totals: [{ upstream: 'cloud', reason: 'not-authorized', count: 1 }],
    })
    expect((status.upstreams[0] as ForwarderStatus).deadLetters).toEqual({ 'not-authorized': 1 })
    const metrics = await httpGet(gw, '/metrics')
    expect(
      sample(metrics, 'outpost_dead_letters_total', { upstream: 'cloud', reason: 'not-authorized' }),
    ).toBe(1)
    expect(sample(metrics, 'outpost_dead_letters')).toBe(1)
    expect(sample(metrics, 'outpost_dead_letter_bytes')).toBeGreaterThan(0)
    const warnings = gw.logs.lines.filter((l) => l.level === 'warn' && l.seq === 5)
    expect(warnings.map((l) => l.msg)).toEqual(['dead-lettered'])
    expect(warnings[0]).toMatchObject({ reason: 'not-authorized', upstream: 'cloud' })

    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.cursor).toBe(20)
    expect(after.deadLetters).toHaveLength(1)
    expect(after.deadLetters[0]).toMatchObject({ upstream: 'cloud', reason: 'not-authorized' })
    expect(after.deadLetters[0]?.detail).toMatch(/0x87/)
    expect(after.deadLetters[0]?.record.seq).toBe(5)
    expect(Buffer.from(after.deadLetters[0]?.record.payload ?? []).toString()).toBe('r-5')
  })

  test('refused PUBACKs no longer jam the window: maxInflight 2 and three refusals in a row, everything behind them arrives', async () => {
    const up = await scripted()
    up.answer = (p) => ({ ack: p.seq !== undefined && p.seq >= 3 && p.seq <= 5 ? 0x87 : 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 30))
    const gw = await gateway(dataDir, up.url, { maxInflight: 2 })

    expect(await reaches(gw, 30), 'the cursor passes the three refused readings').toBe(true)
    expect(firstAcked(up, new Set([3, 4, 5]))).toEqual([1, 2, ...range(6, 30)])
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([
      [3, 'not-authorized'],
      [4, 'not-authorized'],
      [5, 'not-authorized'],
    ])
    expect(after.cursor).toBe(30)
  })

  test('every permanent code goes to the dead letters with its reason: 0x80, 0x83 refused; 0x87; 0x90; 0x99', async () => {
    const codes: Record<number, number> = { 2: 0x80, 4: 0x83, 6: 0x87, 8: 0x90, 10: 0x99 }
    const up = await scripted()
    up.answer = (p) => ({ ack: codes[p.seq ?? 0] ?? 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 12))
    const gw = await gateway(dataDir, up.url)

    expect(await reaches(gw, 12)).toBe(true)
    expect(firstAcked(up, new Set([2, 4, 6, 8, 10]))).toEqual([1, 3, 5, 7, 9, 11, 12])
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason, d.detail.slice(0, 12)])).toEqual([
      [2, 'refused', 'PUBACK 0x80 '],
      [4, 'refused', 'PUBACK 0x83 '],
      [6, 'not-authorized', 'PUBACK 0x87 '],
      [8, 'topic-invalid', 'PUBACK 0x90 '],
      [10, 'payload-invalid', 'PUBACK 0x99 '],
    ])
  })

  test('QoS 2: a PUBREC 0x87 dead-letters the reading the same way', async () => {
    const up = await scripted()
    up.answer = (p) => ({ ack: p.seq === 2 ? 0x87 : 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 5))
    const gw = await gateway(dataDir, up.url, { qos: 2 })

    expect(await reaches(gw, 5)).toBe(true)
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[2, 'not-authorized']])
    expect(after.deadLetters[0]?.detail).toMatch(/^PUBREC 0x87/)
  })
})

describe('transient refusals', () => {
  test('PUBACK 0x97 (quota exceeded) twice: the reading is resent after a backoff, in order, and never dead-lettered', async () => {
    const up = await scripted()
    let refusals = 0
    up.answer = (p) => {
      if (p.seq === 3 && refusals < 2) {
        refusals++
        return { ack: 0x97 }
      }
      return { ack: 0 }
    }
    const dataDir = await seedOutbox(readingsFrom(1, 10))
    const gw = await gateway(dataDir, up.url)

    expect(await reaches(gw, 10)).toBe(true)
    expect(up.seqs().filter((s) => s === 3)).toHaveLength(3)
    // Each resend starts again from the cursor: 3 comes before everything after it on its connection.
    const last = up.publishes.find((p) => p.seq === 3 && p.conn === up.connections)
    expect(last?.conn).toBe(3)
    expect(up.seqs(3)[0]).toBe(3)
    const status = await cloud(gw)
    expect(status.refusals).toEqual({ '0x97': 2 })
    expect(status.lastError).toBeUndefined() // cleared by the connection that worked
    const metrics = await httpGet(gw, '/metrics')
    expect(sample(metrics, 'outpost_upstream_refusals_total', { upstream: 'cloud', code: '0x97' })).toBe(2)
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters).toEqual([])
    expect(after.cursor).toBe(10)
  })

  test('0x91 (packet identifier in use) is retried too', async () => {
    const up = await scripted()
    let refused = false
    up.answer = (p) => {
      if (p.seq === 2 && !refused) {
        refused = true
        return { ack: 0x91 }
      }
      return { ack: 0 }
    }
    const dataDir = await seedOutbox(readingsFrom(1, 4))
    const gw = await gateway(dataDir, up.url)
    expect(await reaches(gw, 4)).toBe(true)
    expect(up.seqs().filter((s) => s === 2)).toHaveLength(2)
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })
})
