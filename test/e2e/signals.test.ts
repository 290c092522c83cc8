// Lifecycle (issue #3): SIGTERM stops gracefully — pending appends committed, forwarders given a short
// drain — and exits 0; a second signal exits at once with status 1. To make the graceful stop take
// visible time, the upstream is rate-capped and has a backlog, so the drain runs to its limit (~2 s).
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto, publishReadings } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('signals', () => {
  const gateways: GatewayProcess[] = []
  let cloud: Cloud | undefined
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    await cloud?.close()
  })

  async function slowGateway(dir: string) {
    cloud ??= await createCloud(tempDir(), true)
    const config = gatewayConfig(join(dir, 'data'), undefined, {
      upstreams: [
        {
          name: 'cloud',
          type: 'mqtt',
          url: cloud.url,
          maxRatePerSec: 20,
          reconnect: { minMs: 50, maxMs: 300 },
        },
      ],
    })
    const g = await GatewayProcess.start(dir, config)
    gateways.push(g)
    await g.waitForLog((l) => l.msg === 'upstream connected')
    await publishReadings(g.url, 2, 200, { inflight: 10 })
    return g
  }

  it('first SIGTERM drains and exits 0 with everything acknowledged on disk', async () => {
    const dir = tempDir()
    const g = await slowGateway(dir)
    const t0 = Date.now()
    g.child.kill('SIGTERM')
    expect(await g.waitExit()).toBe(0)
    const took = Date.now() - t0
    expect(took).toBeGreaterThanOrEqual(1500) // the forwarder drain ran to its limit
    expect(g.logs.some((l) => l.msg === 'gateway stopped')).toBe(true)
    const outbox = await Outbox.open({ dir: join(dir, 'data'), reserveBytes: 0, minFreeDiskBytes: 0 })
    expect(outbox.lastSeq).toBe(400)
    expect(outbox.cursorNames()).toEqual(['cloud'])
    await outbox.close()
  })

  it('a second signal exits at once with status 1', async () => {
    const g = await slowGateway(tempDir())
    const t0 = Date.now()
    g.child.kill('SIGTERM')
    await g.waitForLog((l) => l.msg === 'stopping')
    g.child.kill('SIGINT')
    expect(await g.waitExit()).toBe(1)
    expect(Date.now() - t0).toBeLessThan(1500)
    expect(g.logs.some((l) => l.msg === 'second signal: exiting at once')).toBe(true)
  })
})
