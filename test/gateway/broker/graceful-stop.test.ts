// gateway.stop() while devices publish QoS 1 as fast as they can: every publish that got a PUBACK is in
// the outbox afterwards (read back by reopening the data dir), stop() reports no failure, and the
// devices are disconnected.
//
// What this does not show: that a PUBACK waits for the commit. stop() writes whatever is pending before
// it closes the outbox, so a PUBACK sent ahead of its commit would pass here too (issue #12);
// puback-after-commit.test.ts holds the outbox's write and watches for PUBACKs meanwhile.
import { afterEach, describe, expect, test } from 'vitest'
import { decodeReading, publishReadings, type Reading } from '../../helpers/e2e.js'
import { payloadText, type RunningGateway, readOutbox, startGateway, until } from './harness.js'

const running: RunningGateway[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop().catch(() => undefined)))
})

const key = (r: Reading) => `${r.client}/${r.i}`

describe('graceful stop', () => {
  for (const durability of ['fsync', 'batch'] as const) {
    test(`stop() mid-stream loses no acknowledged publish: all of them are in the reopened outbox (durability ${durability})`, async () => {
      const gw = await startGateway({ outbox: { durability } })
      running.push(gw)
      let acked = 0
      const publishing = publishReadings(gw.url, 4, 1_000_000, {
        inflight: 8,
        onAck: () => {
          acked++
        },
      })
      // Stop in the middle of the stream, once enough has been acknowledged to make it meaningful.
      expect(await until(() => acked >= 300, 30_000)).toBe(true)
      const stopped = gw.stop()
      await expect(stopped).resolves.toBeUndefined()
      // The devices see their connections end and report what was acknowledged.
      const perClient = await publishing
      const ackedReadings = perClient.flat()
      expect(ackedReadings.length).toBeGreaterThanOrEqual(300)
      expect(ackedReadings.length).toBeLessThan(4 * 1_000_000)

      const records = await readOutbox(gw.dataDir)
      const stored = new Set(records.map((r) => key(decodeReading(Buffer.from(r.payload)))))
      const missing = ackedReadings.filter((r) => !stored.has(key(r)))
      expect(
        missing,
        `${missing.length} acknowledged readings missing from ${records.length} records`,
      ).toEqual([])
      // Each reading was sent once and is stored once; the records are in sequence with no gaps.
      expect(stored.size).toBe(records.length)
      expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1))
      expect(
        records.every(
          (r) => r.topic === `sensors/dev-${decodeReading(Buffer.from(r.payload)).client}/telemetry`,
        ),
      ).toBe(true)
      expect(payloadText(records[0] as (typeof records)[number])).toMatch(/^\{"client":\d,"i":\d+\}$/)
      // Logged as a clean stop.
      expect(gw.logs.lines.filter((l) => l.msg === 'stop step failed')).toEqual([])
    })
  }

  test('stop() is idempotent and a stopped gateway refuses new connections', async () => {
    const gw = await startGateway()
    running.push(gw)
    const port = gw.port
    await Promise.all([gw.stop(), gw.stop()])
    await gw.stop()
    const acked = await publishReadings(`mqtt://127.0.0.1:${port}`, 1, 1, { inflight: 1 }).catch(
      (err: Error) => err,
    )
    expect(acked).toBeInstanceOf(Error)
  })
})
