// Issue #3: kill -9 of the gateway loses nothing it acknowledged — neither while the uplink is down
// (readings PUBACKed, then the process killed) nor while it forwards (duplicates bounded by the
// in-flight window and recognisable by their identity).
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
  type Reading,
} from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

const key = (r: Reading) => `${r.client}/${r.i}`
const MAX_INFLIGHT = 100

describe.runIf(haveMosquitto())('kill -9', () => {
  const clouds: Cloud[] = []
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    for (const c of clouds) await c.close()
  })

  async function start(dir: string, cloud: Cloud) {
    const config = gatewayConfig(join(dir, 'data'), undefined, {
      upstreams: [
        {
          name: 'cloud',
          type: 'mqtt',
          url: cloud.url,
          maxInflight: MAX_INFLIGHT,
          reconnect: { minMs: 50, maxMs: 300 },
        },
      ],
    })
    const g = await GatewayProcess.start(dir, config)
    gateways.push(g)
    return g
  }

  it('with the uplink down, every PUBACKed reading arrives after three kill -9 and a restart', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    const cloud = await createCloud(dir, false)
    clouds.push(cloud)
    const acked = new Set<string>()
    let gateway = await start(dir, cloud)
    for (let round = 0; round < 3; round++) {
      const target = acked.size + 1000 + Math.floor(Math.random() * 3000)
      const victim = gateway
      await publishReadings(victim.url, 5, 100_000, {
        inflight: 20,
        startAt: round * 100_000,
        onAck: (r) => {
          acked.add(key(r))
          if (acked.size === target) void victim.kill9() // mid-stream, with PUBACKs in flight
        },
      })
      await victim.kill9()
      expect(acked.size).toBeGreaterThanOrEqual(target)
      gateway = await GatewayProcess.startFile(victim.configFile)
      gateways.push(gateway)
    }

    await cloud.up()
    const arrived = new Set<string>()
    let scanned = 0
    let missing = acked.size
    await cloud.sink.waitFor(
      () => {
        for (; scanned < cloud.sink.messages.length; scanned++) {
          const k = key(decodeReading((cloud.sink.messages[scanned] as { payload: Buffer }).payload))
          if (acked.has(k) && !arrived.has(k)) missing--
          arrived.add(k)
        }
        return missing === 0
      },
      time.left(),
      () =>
        `${[...acked].filter((k) => !arrived.has(k)).length} of ${acked.size} acknowledged readings missing`,
    )
    expect(orderProblems(cloud.sink.firstCopies())).toEqual([])
    expect(await gateway.stop()).toBe(0)
  })

  it('during forwarding, a kill -9 loses nothing; duplicates stay within the in-flight window and carry their identity', async (ctx) => {
    const time = deadline(ctx)
    const dir = tempDir()
    const cloud = await createCloud(dir, false)
    clouds.push(cloud)
    const gateway = await start(dir, cloud)
    const acked = await publishReadings(gateway.url, 4, 5000, { inflight: 50 })
    const total = acked.flat().length
    expect(total).toBe(20_000)

    await cloud.up()
    const cut = 3000 + Math.floor(Math.random() * 10_000)
    await cloud.sink.waitFor(
      () => cloud.sink.messages.length >= cut,
      time.left(),
      () => `${cloud.sink.messages.length}/${cut} messages before the kill`,
    )
    await gateway.kill9()
    const restarted = await GatewayProcess.startFile(gateway.configFile)
    gateways.push(restarted)
    await cloud.sink.waitForUnique(total, time.left())
    await new Promise((r) => setTimeout(r, 300)) // late copies, if any, still count as duplicates

    const seqs = cloud.sink.messages.map((m) => m.seq)
    expect(
      seqs.every((s) => typeof s === 'number'),
      'every message carries outpost-seq',
    ).toBe(true)
    expect(
      cloud.sink.messages.every((m) => m.gateway === 'gw-test'),
      'and outpost-gateway',
    ).toBe(true)
    expect(new Set(seqs)).toEqual(new Set(Array.from({ length: total }, (_, i) => i + 1)))
    const duplicates = cloud.sink.messages.length - total
    console.log(`kill -9 during forwarding at ~${cut}: ${duplicates} duplicates (window ${MAX_INFLIGHT})`)
    expect(duplicates).toBeLessThanOrEqual(MAX_INFLIGHT)
    // Same identity, same content: a duplicate is recognisable and harmless to drop.
    const bySeq = new Map<number, string>()
    for (const m of cloud.sink.messages) {
      const text = m.payload.toString()
      const prev = bySeq.get(m.seq as number)
      if (prev !== undefined) expect(text).toBe(prev)
      bySeq.set(m.seq as number, text)
    }
    expect(orderProblems(cloud.sink.firstCopies())).toEqual([])
    expect(await restarted.stop()).toBe(0)
  })
})
