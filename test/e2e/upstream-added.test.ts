// The default config has no upstream: readings are kept until one is configured, then sent. And an
// upstream taken out of the config stops pinning the disk, its abandoned backlog counted.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { deadline } from '../helpers/deadline.js'
import {
  type Cloud,
  createCloud,
  gatewayConfig,
  haveMosquitto,
  orderProblems,
  publishReadings,
} from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('changing upstreams in the config', () => {
  const gateways: GatewayProcess[] = []
  let cloud: Cloud | undefined
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    await cloud?.close()
  })

  it('keeps readings while no upstream is configured and delivers them all once one is added', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    const data = join(dir, 'data')
    const first = await GatewayProcess.start(dir, gatewayConfig(data, undefined))
    gateways.push(first)
    const acked = await publishReadings(first.url, 3, 1000, { inflight: 20 })
    expect(acked.flat()).toHaveLength(3000)
    expect(await first.stop()).toBe(0)

    cloud = await createCloud(dir, true)
    const withUpstream = gatewayConfig(data, cloud.url, {
      http: { enabled: true, host: '127.0.0.1', port: 0 },
    })
    const second = await GatewayProcess.start(dir, withUpstream)
    gateways.push(second)
    await cloud.sink.waitForUnique(3000, time.left(30_000))
    expect(orderProblems(cloud.sink.firstCopies())).toEqual([])
    const got = new Set(cloud.sink.firstCopies().map((m) => m.payload.toString()))
    for (const r of acked.flat()) expect(got.has(JSON.stringify(r))).toBe(true)

    // Retention follows the cursor: once delivered, the records are deleted.
    const retentionBy = performance.now() + time.left(10_000)
    let status = await second.status()
    while (status.outbox.messages > 0 && performance.now() < retentionBy) {
      await new Promise((r) => setTimeout(r, 100))
      status = await second.status()
    }
    expect(status.outbox.messages).toBe(0)
    expect(status.outbox.lastSeq).toBe(3000)
    expect(await second.stop()).toBe(0)

    // Take the upstream out again, and add a second one that never connects: its backlog is counted
    // as abandoned when it, in turn, leaves the config.
    const unreachable = {
      name: 'spare',
      type: 'mqtt',
      url: 'mqtt://127.0.0.1:1',
      reconnect: { minMs: 1000, maxMs: 1000 },
    }
    const third = await GatewayProcess.start(
      dir,
      gatewayConfig(data, undefined, { upstreams: [unreachable] }),
    )
    gateways.push(third)
    await publishReadings(third.url, 1, 50, { startAt: 5000 })
    expect(await third.stop()).toBe(0)

    const configFile = join(dir, 'gateway.yaml')
    writeFileSync(
      configFile,
      JSON.stringify({
        ...gatewayConfig(data, undefined),
        http: { enabled: true, host: '127.0.0.1', port: 0 },
      }),
    )
    const fourth = await GatewayProcess.startFile(configFile)
    gateways.push(fourth)
    const removed = await fourth.waitForLog((l) => l.msg.startsWith('upstream no longer configured'))
    expect(removed).toMatchObject({ upstream: 'spare', abandoned: 50 })
    const after = await fourth.status()
    expect(after.outbox.counters.upstreamRemoved).toBe(50)
    expect(after.outbox.cursors).toEqual([])
    expect(await fourth.stop()).toBe(0)
  })
})
