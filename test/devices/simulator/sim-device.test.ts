// The simulator's devices: at least once from the device's side. A device whose connection is cut
// mid-stream reconnects with the same client id and resends what was not acknowledged, so every reading
// it saw acknowledged is in the gateway's outbox, and the first copies are in the order it produced them.
import { describe, expect, test } from 'vitest'
import { runFleet } from '../../../devices/simulator/fleet.js'
import { createSensor, PROFILES } from '../../../devices/simulator/profiles.js'
import { SimDevice } from '../../../devices/simulator/sim-device.js'
import { gatewaysPerTest, payloadText, readOutbox, sleep, until } from '../../gateway/broker/harness.js'
import { prng } from '../../helpers/prng.js'
import { TcpProxy } from '../../helpers/tcp-proxy.js'

const { start } = gatewaysPerTest()

describe('SimDevice', () => {
  test('cut twice mid-stream: it reconnects, resends the unacknowledged, and every acknowledged reading is stored, first copies in order', async () => {
    const gw = await start()
    const proxy = await TcpProxy.start(gw.port)
    const acked: number[] = []
    const device = new SimDevice({
      url: proxy.url,
      clientId: 'sim-cut',
      qos: 1,
      window: 10,
      maxQueued: 10_000,
      reconnect: { minMs: 20, maxMs: 100 },
      onAck: (m) => acked.push(m.seq),
    })
    try {
      device.start()
      await device.whenConnected()
      let seq = 0
      const produce = (n: number) => {
        for (let i = 0; i < n; i++, seq++) {
          expect(
            device.enqueue({ seq, topic: 'sensors/sim-cut/telemetry', payload: Buffer.from(`${seq}`) }),
          ).toBe(true)
        }
      }
      for (let round = 0; round < 2; round++) {
        expect(await until(() => device.connected, 5000)).toBe(true)
        produce(300)
        await sleep(5) // some in flight, some acknowledged
        proxy.cut()
        produce(200) // produced while offline: queued
        await sleep(100)
        proxy.restore()
      }
      produce(100)
      expect(await device.waitIdle(10_000)).toBe(true)
      expect(acked.sort((a, b) => a - b)).toEqual(Array.from({ length: seq }, (_, i) => i))
      expect(device.stats).toMatchObject({ sent: seq, acked: seq, connects: 3, drops: 2 })
      expect(device.stats.resent).toBeGreaterThan(0) // what was in flight at each cut went again
      expect(device.unackedSeqs()).toEqual([])
    } finally {
      await device.stop()
      await proxy.close()
    }
    await gw.stop()
    const stored = (await readOutbox(gw.dataDir)).map((r) => Number(payloadText(r)))
    const first: number[] = []
    const seen = new Set<number>()
    for (const s of stored) {
      if (seen.has(s)) continue
      seen.add(s)
      first.push(s)
    }
    expect(first).toEqual(Array.from({ length: 1100 }, (_, i) => i))
  })

  test('without reconnect it gives up when the connection ends, keeping what was not acknowledged', async () => {
    const gw = await start()
    const proxy = await TcpProxy.start(gw.port)
    let gaveUp = false
    const device = new SimDevice({
      url: proxy.url,
      clientId: 'sim-once',
      qos: 1,
      window: 5,
      maxQueued: 50,
      reconnect: false,
      onGiveUp: () => {
        gaveUp = true
      },
    })
    device.start()
    await device.whenConnected()
    proxy.cut()
    expect(await until(() => gaveUp, 5000)).toBe(true)
    for (let i = 0; i < 60; i++) device.enqueue({ seq: i, topic: 't', payload: Buffer.from('x') })
    expect(device.dead).toBe(true)
    expect(device.unacked).toBe(50) // its memory is full: the last 10 were refused
    await device.stop()
    await proxy.close()
  })
})

describe('fleet', () => {
  test('N devices at R/s for T: each produced R·T readings with stable ids, all acknowledged, realistic JSON', async () => {
    const gw = await start()
    const readings: Record<string, unknown>[] = []
    const summary = await runFleet({
      url: gw.url,
      devices: 6,
      ratePerSec: 20,
      qos: 1,
      profile: 'mixed',
      durationMs: 1000,
      onAck: (r) => readings.push(r),
    })
    expect(summary.perDevice.map((d) => d.id)).toEqual([
      'sim-0001',
      'sim-0002',
      'sim-0003',
      'sim-0004',
      'sim-0005',
      'sim-0006',
    ])
    for (const d of summary.perDevice) {
      expect(d.sent).toBeGreaterThanOrEqual(19)
      expect(d.sent).toBeLessThanOrEqual(21)
      expect(d).toMatchObject({ acked: d.sent, failed: 0, failedSeqs: [] })
    }
    expect(summary).toMatchObject({ failed: 0, acked: summary.sent, reconnects: 0 })
    const byKind = (field: string) => readings.filter((r) => field in r).length
    expect(byKind('temperatureC')).toBeGreaterThan(0)
    expect(byKind('lat')).toBeGreaterThan(0)
    expect(byKind('rmsG')).toBeGreaterThan(0)
    expect(readings[0]).toMatchObject({
      device: expect.stringMatching(/^sim-000\d$/),
      seq: expect.any(Number),
    })
    expect(Number.isNaN(Date.parse(readings[0]?.ts as string))).toBe(false)
    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records).toHaveLength(summary.sent)
    expect(new Set(records.map((r) => r.topic)).size).toBe(6)
    expect(records[0]?.topic).toMatch(/^sensors\/sim-000\d\/telemetry$/)
  })
})

describe('profiles', () => {
  test('the same seed gives the same readings; values stay in range and alarms are occasional', () => {
    for (const profile of PROFILES) {
      const a = createSensor(profile, 'd', 1, prng(42))
      const b = createSensor(profile, 'd', 1, prng(42))
      const ra = Array.from({ length: 5000 }, (_, i) => a.next(i * 1000))
      const rb = Array.from({ length: 5000 }, (_, i) => b.next(i * 1000))
      expect(ra, profile).toEqual(rb)
      expect(ra.map((r) => r.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i))
      const alarms = ra.filter((r) => 'alarm' in r).length
      expect(alarms, `${profile}: ${alarms} alarms in 5000`).toBeGreaterThan(0)
      expect(alarms, profile).toBeLessThan(250)
    }
    const env = createSensor('env', 'e', 0, prng(1))
    for (let i = 0; i < 5000; i++) {
      const r = env.next(i)
      expect(r.humidityPct).toBeGreaterThanOrEqual(5)
      expect(r.humidityPct).toBeLessThanOrEqual(100)
    }
    // Random walk: consecutive temperatures differ by at most the step.
    const t = Array.from({ length: 100 }, (_, i) => env.next(i).temperatureC as number)
    for (let i = 1; i < t.length; i++)
      expect(Math.abs((t[i] as number) - (t[i - 1] as number))).toBeLessThanOrEqual(0.16)
  })
})
