// Issue #3: with the uplink down, 20,000 QoS 1 readings from 10 devices are all acknowledged; when the
// cloud broker comes up, all 20,000 arrive, in publish order per device.
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

describe.runIf(haveMosquitto())('uplink down, then up', () => {
  let cloud: Cloud | undefined
  let gateway: GatewayProcess | undefined
  afterAll(async () => {
    await gateway?.kill9()
    await cloud?.close()
  })

  it('acknowledges 20,000 readings while the cloud is down and delivers all of them in order once it is up', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    cloud = await createCloud(dir, false)
    gateway = await GatewayProcess.start(dir, gatewayConfig(join(dir, 'data'), cloud.url))

    const acked = await publishReadings(gateway.url, 10, 2000, { inflight: 50 })
    expect(acked.map((a) => a.length)).toEqual(Array(10).fill(2000))
    expect(cloud.sink.messages).toHaveLength(0)

    await cloud.up()
    await cloud.sink.waitForUnique(20_000, time.left())
    const first = cloud.sink.firstCopies()
    expect(first).toHaveLength(20_000)
    expect(orderProblems(first)).toEqual([])
    const perClient = new Map<number, number>()
    for (const m of first) {
      const r = decodeReading(m.payload)
      perClient.set(r.client, (perClient.get(r.client) ?? 0) + 1)
      expect(m.topic).toBe(`sensors/dev-${r.client}/telemetry`)
      expect(m.gateway).toBe('gw-test')
    }
    expect([...perClient.values()]).toEqual(Array(10).fill(2000))
    expect(await gateway.stop()).toBe(0)
  })
})
