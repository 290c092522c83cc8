// Issue #3: the cloud broker stops and starts three times while devices publish: nothing is lost and
// each device's readings arrive in publish order.
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { deadline } from '../helpers/deadline.js'
import {
  type Cloud,
  createCloud,
  decodeReading,
  gatewayConfig,
  haveMosquitto,
  orderProblems,
  publishReadings,
} from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.runIf(haveMosquitto())('upstream flaps', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  afterAll(async () => {
    await gateway?.kill9()
    await cloud?.close()
  })

  it('stop/start of the cloud broker 3 times during a stream loses nothing and keeps order', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    cloud = await createCloud(dir, true)
    gateway = await GatewayProcess.start(dir, gatewayConfig(join(dir, 'data'), cloud.url))
    const c = cloud
    const perClient = 2500
    let published = 0
    const publishing = publishReadings(gateway.url, 5, perClient, {
      inflight: 2,
      pauseMs: 3, // ~3,000 readings/s for ~5 s: the flaps land mid-stream
      onAck: () => {
        published++
      },
    })
    // Flaps at 20%, 40% and 60% of the stream (by progress, not by the clock: the machine may be busy).
    const flaps: number[] = []
    const total = 5 * perClient
    for (let i = 1; i <= 3; i++) {
      // Each wait for progress gets a share of what is left, so a stalled stream still reaches the
      // assertions below (which say where the flaps landed).
      const progressBy = performance.now() + time.left() / (6 - i)
      while (published < (total * i) / 5 && performance.now() < progressBy) await sleep(20)
      flaps.push(published)
      await c.down()
      await sleep(200 + Math.random() * 300)
      await c.up()
    }
    const acked = await publishing
    expect(acked.flat()).toHaveLength(5 * perClient)
    expect(
      flaps.every((n) => n > 0 && n < 5 * perClient),
      `flaps happened mid-stream (at ${flaps})`,
    ).toBe(true)

    await c.sink.waitForUnique(5 * perClient, time.left())
    const first = c.sink.firstCopies()
    expect(orderProblems(first)).toEqual([])
    const got = new Set(first.map((m) => m.payload.toString()))
    for (const r of acked.flat()) expect(got.has(JSON.stringify(r))).toBe(true)
    expect(new Set(first.map((m) => decodeReading(m.payload).client))).toEqual(new Set([0, 1, 2, 3, 4]))
    expect(gateway.logs.filter((l) => l.msg === 'upstream connected').length).toBeGreaterThanOrEqual(4)
    expect(await gateway.stop()).toBe(0)
  })
})
