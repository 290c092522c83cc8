// Issue #7, item 3: an upstream that accepts the connection and answers PINGREQ but never acknowledges
// a PUBLISH. After ackTimeoutMs without a PUBACK for the oldest message in flight the forwarder says so
// (state "stalled" with since when, in /api/status and /metrics), reconnects and resends; once the
// upstream acknowledges again, everything arrives and the stall is over.
import { expect, test } from 'vitest'
import type { ForwarderStatus } from '../../../gateway/forward/mqtt-forwarder.js'
import { httpGet, readingsFrom, sample, seedOutbox, storeAfter } from '../../helpers/forwarding.js'
import { forwardingPerTest } from '../../helpers/forwarding-per-test.js'
import { until } from '../broker/harness.js'

const { scripted, gateway, cloud } = forwardingPerTest()

test('no PUBACK within ackTimeoutMs: "stalled" since then in status and metrics, reconnect and resend; acknowledged again, all arrives', async () => {
  const upstream = await scripted()
  upstream.answer = () => 'ignore'
  const dataDir = await seedOutbox(readingsFrom(1, 10))
  const before = Date.now()
  const g = await gateway(dataDir, upstream.url, { ackTimeoutMs: 400, keepaliveSec: 1 })

  expect(await until(async () => (await cloud(g)).state === 'stalled', 5000), 'state "stalled"').toBe(true)
  const stalled = await cloud(g)
  expect(stalled.stalledSince).toBeDefined()
  const since = Date.parse(stalled.stalledSince as string)
  expect(since).toBeGreaterThanOrEqual(before + 400)
  expect(since).toBeLessThanOrEqual(Date.now())
  expect(stalled.stalls).toBeGreaterThanOrEqual(1)
  expect(stalled.lastError).toMatch(/no acknowledgement/)
  const metrics = await httpGet(g, '/metrics')
  expect(sample(metrics, 'outpost_upstream_stalled', { upstream: 'cloud' })).toBe(1)
  expect(sample(metrics, 'outpost_upstream_stalls_total', { upstream: 'cloud' })).toBeGreaterThanOrEqual(1)
  const status = JSON.parse(await httpGet(g, '/api/status')) as { upstreams: ForwarderStatus[] }
  expect(status.upstreams[0]).toMatchObject({ state: 'stalled', stalledSince: expect.any(String) })
  expect(g.logs.lines.filter((l) => l.msg.startsWith('upstream stalled'))).toHaveLength(1)

  // It reconnected and resent from the cursor: the first reading again, first on a new connection.
  await upstream.waitFor(() => upstream.connections >= 2 && upstream.seqs(2).length > 0, 5000)
  expect(upstream.seqs(1)[0]).toBe(1)
  expect(upstream.seqs(2)[0]).toBe(1)

  upstream.answer = () => ({ ack: 0 })
  expect(await until(async () => (await cloud(g)).position === 10, 5000), 'everything acknowledged').toBe(
    true,
  )
  const recovered = await cloud(g)
  expect(recovered.state).toBe('connected')
  expect(recovered.stalledSince).toBeUndefined()
  expect(sample(await httpGet(g, '/metrics'), 'outpost_upstream_stalled', { upstream: 'cloud' })).toBe(0)
  await g.stop()
  expect(await storeAfter(dataDir)).toMatchObject({ cursor: 10, deadLetters: [] })
})

test('a slow but acknowledging upstream is not stalled: each PUBACK comes within ackTimeoutMs', async () => {
  const upstream = await scripted()
  upstream.answer = () => ({ ack: 0, delayMs: 150 })
  const dataDir = await seedOutbox(readingsFrom(1, 8))
  const g = await gateway(dataDir, upstream.url, { ackTimeoutMs: 400, maxInflight: 1 })
  expect(await until(async () => (await cloud(g)).position === 8, 10_000)).toBe(true)
  const s = await cloud(g)
  expect(s).toMatchObject({ state: 'connected', stalls: 0, stalledSince: undefined })
  expect(upstream.connections).toBe(1)
  expect(upstream.seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
})
