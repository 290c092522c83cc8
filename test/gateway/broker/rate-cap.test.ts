// upstreams[].maxRatePerSec: a backlog drains at the capped pace (a token bucket with a burst of a tenth
// of a second's worth), and all of it arrives, in order. Without the cap the same backlog is much faster.
// The upstream is a real mosquitto; the backlog is made by a first run of the gateway with no upstream,
// so the upstream's new cursor starts before the oldest record.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Deadline, deadline } from '../../helpers/deadline.js'
import { type Cloud, createCloud, haveMosquitto, publishReadings } from '../../helpers/e2e.js'
import { tempDir } from '../../helpers/tmp.js'
import { type RunningGateway, startGateway } from './harness.js'

const BACKLOG = 300
const RATE = 100

describe.runIf(haveMosquitto())('maxRatePerSec', () => {
  let cloud: Cloud | undefined
  const running: RunningGateway[] = []
  const times: Record<string, number> = {}
  beforeAll(async () => {
    cloud = await createCloud(tempDir('outpost-rate-'), true)
  })
  afterAll(async () => {
    await Promise.all(running.map((g) => g.stop().catch(() => undefined)))
    await cloud?.close()
    if (Object.keys(times).length > 0) console.info(`backlog of ${BACKLOG} delivered in (ms):`, times)
  })

  /** Builds a backlog, starts a gateway that forwards it, and returns the ms until all of it arrived. */
  async function drain(
    gatewayId: string,
    maxRatePerSec: number | undefined,
    time: Deadline,
  ): Promise<number> {
    const sink = (cloud as Cloud).sink
    const dataDir = join(tempDir('outpost-rate-'), 'data')
    const offline = await startGateway({ gatewayId }, { dataDir })
    running.push(offline)
    const acked = await publishReadings(offline.url, 3, BACKLOG / 3, { inflight: 20 })
    expect(acked.flat()).toHaveLength(BACKLOG)
    await offline.stop()

    const mine = () => sink.messages.filter((m) => m.gateway === gatewayId)
    const started = performance.now()
    const gw = await startGateway(
      {
        gatewayId,
        upstreams: [
          {
            name: 'cloud',
            type: 'mqtt',
            url: (cloud as Cloud).url,
            reconnect: { minMs: 50, maxMs: 300 },
            connectTimeoutMs: 2000,
            ...(maxRatePerSec === undefined ? {} : { maxRatePerSec }),
          },
        ],
      },
      { dataDir },
    )
    running.push(gw)
    await sink.waitFor(
      () => new Set(mine().map((m) => m.seq)).size >= BACKLOG,
      time.left(),
      () => `${mine().length}/${BACKLOG} from ${gatewayId}`,
    )
    const elapsed = performance.now() - started
    const seqs = [...new Set(mine().map((m) => m.seq))]
    expect(seqs).toEqual(Array.from({ length: BACKLOG }, (_, i) => i + 1))
    await gw.stop()
    return elapsed
  }

  test(`a backlog of ${BACKLOG} at maxRatePerSec ${RATE} takes about ${BACKLOG / RATE} s, and all of it arrives`, async (ctx) => {
    const time = deadline(ctx)
    const capped = await drain('gw-capped', RATE, time)
    times.capped = Math.round(capped)
    // (BACKLOG - burst of RATE/10) / RATE = 2.9 s at the least; allow for timer granularity.
    expect(capped).toBeGreaterThanOrEqual(2500)
    expect(capped).toBeLessThan(30_000)

    const free = await drain('gw-uncapped', undefined, time)
    times.uncapped = Math.round(free)
    expect(free).toBeLessThan(capped * 0.6)
  })
})
