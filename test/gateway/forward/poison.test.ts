// Poison detection (issue #7, build item 3, second point): an upstream that drops the connection on a
// message it dislikes, without a reason code. After poisonAfterDisconnects drops in a row with the same
// oldest message unacknowledged and nothing acknowledged since, the message is sent alone; if the
// connection drops again, it is dead-lettered ("upstream-disconnect") and the rest goes on. And what must
// never dead-letter anything: an unreachable upstream, connections lost while nothing is in flight, a
// flapping link that acknowledges in between.
import { connectAsync } from 'mqtt'
import { describe, expect, test } from 'vitest'
import { readingsFrom, seedOutbox, storeAfter } from '../../helpers/forwarding.js'
import { forwardingPerTest } from '../../helpers/forwarding-per-test.js'
import type { ScriptedUpstream } from '../../helpers/scripted-upstream.js'
import { type RunningGateway, sleep, until } from '../broker/harness.js'

const { scripted, gateway, cloud, reaches: reachesIn } = forwardingPerTest()

// 15 s here, not the fixture's 10: a poison run waits out several drops and reconnects.
const reaches = (gw: RunningGateway, seq: number, timeoutMs = 15_000) => reachesIn(gw, seq, timeoutMs)

const payloads = (up: ScriptedUpstream, conn?: number) =>
  up.publishes.filter((p) => conn === undefined || p.conn === conn).map((p) => p.payload.toString())

/** Payloads in first-arrival order, without `except`. */
function firstCopies(up: ScriptedUpstream, except: string): string[] {
  return [...new Set(payloads(up))].filter((p) => p !== except)
}

const names = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `r-${from + i}`)

describe('an upstream that drops the connection on one message', () => {
  test.each([
    [5, 'MQTT 5'],
    [4, 'MQTT 3.1.1'],
  ] as const)(
    '%s (%s): after 3 drops it is sent alone, dropped again, dead-lettered; the rest arrives in order',
    async (version, _label) => {
      const up = await scripted()
      up.answer = (p) => (p.payload.toString() === 'r-4' ? 'drop' : { ack: 0 })
      const dataDir = await seedOutbox(readingsFrom(1, 20))
      const gw = await gateway(dataDir, up.url, { protocolVersion: version })

      expect(await reaches(gw, 20), 'the cursor passes the poison message').toBe(true)
      expect(firstCopies(up, 'r-4')).toEqual([...names(1, 3), ...names(5, 20)])
      // Sent in 4 connections: 3 drops with it in flight, then alone on the 4th (nothing before or after
      // it on that connection), dropped again.
      const withIt = [
        ...new Set(up.publishes.filter((p) => p.payload.toString() === 'r-4').map((p) => p.conn)),
      ]
      expect(withIt).toHaveLength(4)
      expect(payloads(up, withIt[3])).toEqual(['r-4'])
      expect(payloads(up, (withIt[3] as number) + 1)[0]).toBe('r-5')

      const warned = gw.logs.lines.filter((l) => l.msg === 'dead-lettered')
      expect(warned).toHaveLength(1)
      expect(warned[0]).toMatchObject({ seq: 4, reason: 'upstream-disconnect' })
      const s = await cloud(gw)
      expect(s.deadLetters).toEqual({ 'upstream-disconnect': 1 })
      expect(s.isolating).toBe(false)
      await gw.stop()
      const after = await storeAfter(dataDir)
      expect(after.cursor).toBe(20)
      expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[4, 'upstream-disconnect']])
      expect(after.deadLetters[0]?.detail).toMatch(/sent alone/)
    },
  )

  test('a DISCONNECT with a reason code (MQTT 5) counts the same, and its code is in the detail', async () => {
    const up = await scripted()
    up.answer = (p) => (p.seq === 2 ? { disconnect: 0x81 } : { ack: 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 5))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 1 })
    expect(await reaches(gw, 5)).toBe(true)
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[2, 'upstream-disconnect']])
    expect(after.deadLetters[0]?.detail).toMatch(/0x81/)
  })

  test('a PUBACK with a code mqtt.js cannot parse (0x89 is not a PUBACK code) ends the connection; repeated, the message is isolated and dead-lettered', async () => {
    const up = await scripted()
    up.answer = (p) => ({ ack: p.seq === 3 ? 0x89 : 0 })
    const dataDir = await seedOutbox(readingsFrom(1, 6))
    const gw = await gateway(dataDir, up.url)
    expect(await reaches(gw, 6)).toBe(true)
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[3, 'upstream-disconnect']])
    expect(after.deadLetters[0]?.detail).toMatch(/Invalid puback reason code/)
  })

  test('poisonAfterDisconnects counts: two drops then an acknowledgement is no poison', async () => {
    const up = await scripted()
    let drops = 0
    up.answer = (p) => {
      if (p.seq === 2 && drops < 2) {
        drops++
        return 'drop'
      }
      return { ack: 0 }
    }
    const dataDir = await seedOutbox(readingsFrom(1, 5))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 3 })
    expect(await reaches(gw, 5)).toBe(true)
    expect(up.connections).toBe(3)
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })

  test('isolation sends the suspect alone even when the true culprit is behind it, and dead-letters only the culprit', async () => {
    // The upstream drops the connection on r-6, after acknowledging r-5 — but the drop comes before
    // its PUBACK leaves: to the forwarder, r-5 looks like the oldest unacknowledged.
    const up = await scripted()
    up.answer = (p) => {
      const n = p.payload.toString()
      if (n === 'r-5') return { ack: 0, delayMs: 50 }
      if (n === 'r-6') return 'drop'
      return { ack: 0 }
    }
    const dataDir = await seedOutbox(readingsFrom(1, 10))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 2 })
    expect(await reaches(gw, 10, 25_000)).toBe(true)
    await gw.stop()
    const after = await storeAfter(dataDir)
    expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[6, 'upstream-disconnect']])
    expect(firstCopies(up, 'r-6')).toEqual([...names(1, 5), ...names(7, 10)])
  })
})

describe('what is not poison', () => {
  test('an unreachable upstream (connection refused) never counts, even with poisonAfterDisconnects 1', async () => {
    const up = await scripted()
    await up.stopListening()
    const dataDir = await seedOutbox(readingsFrom(1, 10))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 1 })
    expect(await until(async () => (await cloud(gw)).lastError !== undefined, 5000)).toBe(true)
    await sleep(1000) // many refused attempts
    await up.listenAgain()
    expect(await reaches(gw, 10)).toBe(true)
    expect(firstCopies(up, '')).toEqual(names(1, 10))
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })

  test('a DISCONNECT about the server or the session (0x8B shutting down, 0x8E taken over) never counts', async () => {
    const up = await scripted()
    const codes = [0x8b, 0x8e, 0x8b]
    up.answer = (p) => {
      const code = p.seq === 2 ? codes.shift() : undefined
      return code === undefined ? { ack: 0 } : { disconnect: code }
    }
    const dataDir = await seedOutbox(readingsFrom(1, 5))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 1 })
    expect(await reaches(gw, 5)).toBe(true)
    expect(up.connections).toBe(4)
    expect(gw.logs.lines.filter((l) => l.msg.includes('sending it alone'))).toEqual([])
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })

  test('connections lost while nothing is in flight never count', async () => {
    const up = await scripted()
    up.dropAfterMs = 100
    const dataDir = await seedOutbox([])
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 1 })
    await up.waitFor(
      () => up.connections >= 4,
      10_000,
      () => `${up.connections} connections`,
    )
    up.dropAfterMs = undefined
    const device = await connectAsync(gw.url, { clientId: 'dev' })
    try {
      for (let i = 1; i <= 5; i++) await device.publishAsync('sensors/dev/telemetry', `r-${i}`, { qos: 1 })
    } finally {
      await device.endAsync()
    }
    expect(await reaches(gw, 5)).toBe(true)
    expect((await cloud(gw)).isolating).toBe(false)
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })

  test('a link that drops every connection under load, acknowledging in between, dead-letters nothing (poisonAfterDisconnects 1)', async () => {
    const up = await scripted()
    up.answer = () => ({ ack: 0, delayMs: 20 })
    up.dropAfterMs = 400
    const dataDir = await seedOutbox(readingsFrom(1, 300))
    const gw = await gateway(dataDir, up.url, { poisonAfterDisconnects: 1, maxRatePerSec: 200 })
    await up.waitFor(
      () => up.connections >= 4,
      15_000,
      () => `${up.connections} connections`,
    )
    up.dropAfterMs = undefined
    up.dropAll()
    expect(await reaches(gw, 300, 20_000)).toBe(true)
    expect(firstCopies(up, '')).toEqual(names(1, 300))
    await gw.stop()
    expect((await storeAfter(dataDir)).deadLetters).toEqual([])
  })
})
