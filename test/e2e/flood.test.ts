// Issue #7, item 4: one device flooding QoS 0 must not starve the others or exhaust memory. A raw
// client writes QoS 0 as fast as TCP takes it while five devices publish QoS 1 at 10 msg/s, against a
// real gateway process with a real mosquitto upstream. (A shorter flood than the benchmark's 20 s,
// `npm run bench -- flood`, to keep CI fast.) Before the fix: PUBACK p50 12.6 s, RSS 92 MB → 1.45 GB.
//
// The target is PUBACK p99 ≤ 100 ms: `npm run bench -- flood` measures it (over 1,000 samples, after a
// control round without the flood). This test guards against what the issue found — the devices
// starved, p50 12.6 s — with bounds a busy CI machine cannot break: a single stall of the whole gateway
// (an fsync held up by other work on the disk: up to 120 ms measured on the 2-core development VM
// while other suites ran; another test file's burst of work) delays all five devices at once, 2% of
// 250 samples, right in the p99. So: p50 ≤ 100 ms and p99 ≤ 1 s, or 20× / 10× what the same devices
// get without a flood (a control round first) on a machine too busy for those. Before the fix: p50
// 2.3 s and p99 3.9 s in this test, against a control's 3 ms.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import type { GatewayStatus } from '../../gateway/gateway.js'
import { type PacedResult, percentileOf, runPacedDevices } from '../../scripts/ci/paced-devices.js'
import { flood } from '../../scripts/ci/qos0-flooder.js'
import { RssSampler, rssBytes } from '../../scripts/ci/rss-sampler.js'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { tempDir } from '../helpers/tmp.js'

const FLOOD_SECONDS = 4
const MIB = 2 ** 20

/** Every publish the gateway took in is accounted for: stored, or dropped/refused with a reason. */
function accountedFor(s: GatewayStatus['broker']): number {
  return s.stored + s.qos0Dropped + s.notStored + s.localOnly + s.refusedUpstreamTopic
}

describe.runIf(haveMosquitto())('a QoS 0 flood', () => {
  let cloud: Cloud | undefined
  let gw: GatewayProcess | undefined
  afterEach(async () => {
    await gw?.kill9()
    await cloud?.close()
  })

  async function run(broker: Record<string, unknown>) {
    const dir = tempDir('outpost-flood-')
    cloud = await createCloud(dir, true)
    gw = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], allowAnonymous: true, ...broker },
        http: { enabled: true, host: '127.0.0.1', port: 0 },
      }),
    )
    const gateway = gw
    // The control round: the same devices without a flood. Idle RSS: after start-up and this round.
    const control = await runPacedDevices({
      url: gateway.url,
      devices: 5,
      perSec: 10,
      seconds: 1.5,
      idPrefix: 'control',
    })
    const idle = rssBytes(gateway.pid) ?? 0
    const before = (await gateway.status()).broker
    const rss = new RssSampler(gateway.pid)
    const [devices, flooded] = await Promise.all([
      runPacedDevices({ url: gateway.url, devices: 5, perSec: 10, seconds: FLOOD_SECONDS + 1 }),
      flood({
        port: gateway.port,
        clientId: 'flooder',
        topic: 'sensors/flooder/telemetry',
        payloadBytes: 100,
        seconds: FLOOD_SECONDS,
      }),
    ])
    const peak = rss.stop()
    const deadline = Date.now() + 30_000
    let status = await gateway.status()
    while (accountedFor(status.broker) < status.broker.publishesReceived && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      status = await gateway.status()
    }
    return { devices, control, flooded, idle, peak, status, before }
  }

  function expectDevicesServed(devices: PacedResult, control: PacedResult, tail = true): void {
    const p50 = percentileOf(devices.latenciesMs, 50)
    const p99 = percentileOf(devices.latenciesMs, 99)
    /** The bound, or a multiple of what this machine gives without a flood, whichever is larger. */
    const allowed = (p: number, bound: number) =>
      Math.max(bound, (p === 50 ? 20 : 10) * percentileOf(control.latenciesMs, p))
    const slowest = devices.latenciesMs
      .map((ms, i) => ({ ms, at: devices.sentAtMs[i] ?? 0 }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((x) => `${x.ms.toFixed(0)} ms at ${(x.at / 1000).toFixed(2)} s`)
    console.info(
      `devices: ${devices.acked.length} acked, PUBACK p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; ` +
        `slowest: ${slowest.join(', ')}; without the flood: p50 ${percentileOf(control.latenciesMs, 50).toFixed(1)} ms, ` +
        `p99 ${percentileOf(control.latenciesMs, 99).toFixed(1)} ms`,
    )
    expect(devices.disconnects).toBe(0)
    expect(devices.unacked).toBe(0)
    expect(devices.acked.length).toBeGreaterThanOrEqual(5 * 10 * FLOOD_SECONDS)
    expect(p50).toBeLessThanOrEqual(allowed(50, 100))
    if (tail) expect(p99).toBeLessThanOrEqual(allowed(99, 1000))
  }

  test('with the default limits: devices keep their PUBACKs in time, RSS stays within idle + 64 MiB, and every flood message is stored or counted', async () => {
    const { devices, control, flooded, idle, peak, status, before } = await run({})
    console.info(
      `flood: ${flooded.sent} sent in ${flooded.seconds.toFixed(1)} s, closed by the gateway ${flooded.closedByBroker}×; ` +
        `RSS idle ${(idle / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB`,
    )
    expectDevicesServed(devices, control)
    expect(peak - idle).toBeLessThanOrEqual(64 * MIB)

    const b = status.broker
    expect(accountedFor(b)).toBe(b.publishesReceived)
    // What the gateway read of the flood: every publish it took in since, minus the devices' readings.
    const floodRead =
      b.publishesReceived -
      before.publishesReceived +
      b.refusedThrottled -
      devices.acked.length -
      devices.unacked
    if (flooded.closedByBroker === 0) expect(floodRead).toBe(flooded.sent)
    else expect(floodRead).toBeLessThanOrEqual(flooded.sent)
    expect(b.throttled).toBeGreaterThan(0) // the limit, not luck, held it back

    // Every reading a device got a PUBACK for is upstream.
    const sink = (cloud as Cloud).sink
    const want = new Set(devices.acked)
    await sink.waitFor(
      () => sink.messages.filter((m) => want.has(m.payload.toString())).length >= want.size,
      30_000,
      () =>
        `${sink.messages.filter((m) => want.has(m.payload.toString())).length}/${want.size} readings upstream`,
    )
  })

  // Without limits a flood writes tens of thousands of messages a second to the outbox: memory stays
  // bounded, every device reading is acknowledged, but LevelDB's own write stalls (compaction falling
  // behind on a busy disk) delay every commit now and then — the limits are what keep those away. What
  // waits in memory stays small (ingest pending peak under 1.5 MB); RSS grows by 40-110 MiB all the same
  // (110 on a CI machine running other suites), V8's heap sizing itself for ~40,000 messages a second in
  // and out (the forwarder drains the flood to mosquitto meanwhile, and without node flags V8 sizes its
  // young generation for that rate): bounded, not growing with the flood as before the fix (~75 MB a
  // second, 300 MB over this flood). The shipped unit's node flags bound the heap further (README).
  test('with no per-client limits, only ingest backpressure: memory stays bounded and devices are still served', async () => {
    const { devices, control, flooded, idle, peak, status, before } = await run({
      limits: { messagesPerSec: 0, bytesPerSec: 0 },
    })
    console.info(
      `flood (no limits): ${flooded.sent} sent, closed by the gateway ${flooded.closedByBroker}×; ` +
        `RSS idle ${(idle / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB`,
    )
    expectDevicesServed(devices, control, false)
    expect(peak - idle).toBeLessThanOrEqual(160 * MIB)
    expect(status.ingest.pendingPeakBytes).toBeLessThan(4 * MIB)
    const b = status.broker
    expect(accountedFor(b)).toBe(b.publishesReceived)
    expect(flooded.closedByBroker).toBe(0)
    expect(b.publishesReceived - before.publishesReceived - devices.acked.length - devices.unacked).toBe(
      flooded.sent,
    )
  })
})
