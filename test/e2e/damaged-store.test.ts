// Issue #7 item 5: with one LevelDB table file missing from the data dir (an SD card losing a file),
// `outpost start` exited with "Corruption: 1 missing files" — under systemd a restart loop, a dead
// gateway until someone logs in. Now it repairs the store, says so in /api/status, forwards what is
// left and takes new readings.
import { readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import {
  type Cloud,
  createCloud,
  decodeReading,
  encodeReading,
  gatewayConfig,
  haveMosquitto,
  publishReadings,
  readingTopic,
} from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

describe.runIf(haveMosquitto())('a damaged store', () => {
  const clouds: Cloud[] = []
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
    for (const c of clouds) await c.close()
  })

  it('a missing table file: the gateway starts, reports the repair, forwards what is left and new readings', async () => {
    const dir = tempDir()
    const dataDir = join(dir, 'data')
    // Four rounds of 200 readings for "cloud", each flushed into a table file of its own by a reopen.
    for (let round = 0; round < 4; round++) {
      const outbox = await Outbox.open({ dir: dataDir, minFreeDiskBytes: 0, reserveBytes: 0 })
      outbox.cursor('cloud')
      await outbox.append(
        Array.from({ length: 200 }, (_, i) => ({
          topic: readingTopic(9),
          payload: encodeReading({ client: 9, i: round * 200 + i }),
          qos: 1 as const,
          retain: false,
          ts: Date.now(),
          origin: 'dev-9',
          to: 'all' as const,
        })),
      )
      await outbox.close()
    }
    const tables = readdirSync(join(dataDir, 'outbox'))
      .filter((f) => f.endsWith('.ldb'))
      .sort()
    expect(tables.length).toBeGreaterThanOrEqual(2)
    unlinkSync(join(dataDir, 'outbox', tables[0] as string))

    const cloud = await createCloud(dir, true)
    clouds.push(cloud)
    const gw = await GatewayProcess.start(
      dir,
      gatewayConfig(dataDir, cloud.url, { http: { enabled: true, host: '127.0.0.1', port: 0 } }),
    )
    gateways.push(gw)
    const status = await gw.status()
    expect(status.outbox.damage.repairs).toBe(1)
    expect(status.outbox.damage.findings.join('\n')).toMatch(/Corruption/)
    const httpPort = gw.logs.find((l) => l.msg === 'http listening')?.port as number
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
    expect(metrics).toMatch(/^outpost_outbox_repairs_total 1$/m)
    expect(metrics).toMatch(/^outpost_outbox_lost_total\{reason="corrupt"\} \d+$/m)

    const acked = await publishReadings(gw.url, 2, 50, { inflight: 5 })
    expect(acked.flat()).toHaveLength(100)
    const fresh = (m: { payload: Buffer }) => decodeReading(m.payload).client !== 9
    const deadline = Date.now() + 15_000
    while (cloud.sink.messages.filter(fresh).length < 100 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(cloud.sink.messages.filter(fresh)).toHaveLength(100)
    const survivors = cloud.sink.messages.filter((m) => !fresh(m))
    expect(survivors.length).toBeGreaterThan(0) // the tables that are left are forwarded
    expect(survivors.length).toBeLessThan(800)
    expect(await gw.stop()).toBe(0)
  })
})
