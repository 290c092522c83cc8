// One device flooding QoS 0 while others publish normally: `npm run bench -- flood [flags]` (issue #7,
// item 4). The real gateway (`node dist/gateway/cli.js start`, durability fsync) forwards to a real
// mosquitto; a raw client (scripts/ci/qos0-flooder.ts) writes QoS 0 PUBLISHes as fast as TCP takes
// them for --seconds while --devices mqtt.js devices (scripts/ci/paced-devices.ts) publish QoS 1 at
// --rate msg/s each. Measured: the devices' PUBACK latency, the gateway's RSS (VmRSS, sampled every
// 50 ms; idle = after start-up and one round of device traffic), what became of the flood.
//
// A control round comes first: the same devices for the same time without a flood, so what the
// machine itself adds (fsync stalls of a busy disk, other processes) can be told from the flood's part.
//
// Targets: devices' PUBACK p99 ≤ 100 ms; RSS peak ≤ idle + 64 MiB. Checks: every publish the gateway
// took in is stored or counted as dropped/refused; the flood's count matches what it sent (exactly
// when the gateway did not disconnect it); every reading a device got a PUBACK for reached mosquitto.
// --limits off runs the same with broker.limits at 0 (no per-client limits): only ingest backpressure
// (broker.maxPendingBytes, one socket read in flight per client) stands between the flood and memory.
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import type { GatewayStatus } from '../../gateway/gateway.js'
import { Mosquitto } from '../ci/mosquitto.js'
import { percentileOf, runPacedDevices } from '../ci/paced-devices.js'
import { flood } from '../ci/qos0-flooder.js'
import { RssSampler, rssBytes, rssParts } from '../ci/rss-sampler.js'
import { GatewayChild, gatewayNodeArgs } from './gateway-child.js'
import {
  benchSession,
  choiceFlag,
  fmt,
  fmtInt,
  formatTable,
  machine,
  numberFlag,
  parseFlags,
  printedUsage,
  printJsonLine,
  round,
} from './report.js'

const TARGETS = { p99Ms: 100, rssGrowthBytes: 64 * 2 ** 20 }
const MIB = 2 ** 20
const FLAGS = [
  'seconds',
  'devices',
  'rate',
  'payload-bytes',
  'limits',
  'burst-sec',
  'dir',
  'cpu-prof',
  'gateway-node-args',
] as const

const USAGE = `usage: npm run bench -- flood [--seconds S] [--devices N] [--rate R] [--payload-bytes B]
         [--limits default|off] [--burst-sec S] [--dir PARENT] [--cpu-prof DIR] [--gateway-node-args ARGS]
  --seconds        how long the flood lasts (default 20)
  --devices        well-behaved devices publishing QoS 1 meanwhile (default 5)
  --rate           messages per second per device (default 10)
  --payload-bytes  payload size of the flood's messages (default 100)
  --limits         default: broker.limits as shipped; off: no per-client limits (default: default)
  --burst-sec      broker.limits.burstSec for this run (default: the shipped default)
  --dir            parent of the temporary dir (default os.tmpdir())
  --cpu-prof       write a V8 CPU profile of the gateway child into DIR (on stop)`

interface Options {
  seconds: number
  devices: number
  rate: number
  payloadBytes: number
  limits: 'default' | 'off'
  burstSec: number | undefined
  parent: string
  nodeArgs: string[]
}

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const flags = parseFlags(args, FLAGS)
  const opts: Options = {
    seconds: numberFlag(flags, 'seconds', 20, true),
    devices: numberFlag(flags, 'devices', 5),
    rate: numberFlag(flags, 'rate', 10, true),
    payloadBytes: numberFlag(flags, 'payload-bytes', 100),
    limits: choiceFlag(flags, 'limits', 'default', ['default', 'off'] as const),
    burstSec: flags.has('burst-sec') ? numberFlag(flags, 'burst-sec', 1, true) : undefined,
    parent: flags.get('dir') ?? (await import('node:os')).tmpdir(),
    nodeArgs: gatewayNodeArgs(flags),
  }
  await benchSession('outpost-bench-flood-', opts.parent, async (session) => {
    const mosquitto = await Mosquitto.start({ dir: join(session.root, 'mosquitto') })
    let gw: GatewayChild | undefined
    try {
      gw = await GatewayChild.start({
        dir: session.root,
        dataDir: join(session.root, 'data'),
        durability: 'fsync',
        upstream: { url: mosquitto.url, maxInflight: 100 },
        nodeArgs: opts.nodeArgs,
        broker: {
          limits: {
            ...(opts.limits === 'off' ? { messagesPerSec: 0, bytesPerSec: 0 } : {}),
            ...(opts.burstSec === undefined ? {} : { burstSec: opts.burstSec }),
          },
        },
      })
      await run(gw, mosquitto, opts, session.fsType)
    } finally {
      await gw?.stop()
      await mosquitto.kill()
    }
  })
}

async function run(gw: GatewayChild, mosquitto: Mosquitto, opts: Options, fsType: string): Promise<void> {
  // The cloud side: what reaches mosquitto of the devices' readings.
  const upstream = new Set<string>()
  const sink = await connectAsync(mosquitto.url, { clientId: 'bench-flood-sink', reconnectPeriod: 0 })
  sink.on('message', (_topic, payload) => upstream.add(payload.toString()))
  for (let i = 0; i < opts.devices; i++)
    await sink.subscribeAsync(`sensors/bench-dev-${i}/telemetry`, { qos: 1 })

  // The control round: the same devices for the same time without a flood — what this machine gives.
  console.log(`control: ${opts.devices} devices for ${opts.seconds} s without a flood…`)
  const control = await runPacedDevices({
    url: gw.url,
    devices: opts.devices,
    perSec: opts.rate,
    seconds: opts.seconds,
    idPrefix: 'control',
  })
  const idle = rssBytes(gw.pid) ?? Number.NaN
  const idleParts = rssParts(gw.pid)
  const before = (await gw.status()).broker
  const rss = new RssSampler(gw.pid)
  let pendingPeak = 0
  const statusTimer = setInterval(() => {
    gw.status().then(
      (s) => {
        pendingPeak = Math.max(pendingPeak, s.ingest.pendingBytes)
      },
      () => undefined,
    )
  }, 100)
  console.log(`flooding for ${opts.seconds} s (limits ${opts.limits}) while ${opts.devices} devices publish…`)
  const [devices, flooded] = await Promise.all([
    runPacedDevices({
      url: gw.url,
      devices: opts.devices,
      perSec: opts.rate,
      seconds: opts.seconds + 2,
      idPrefix: 'bench-dev',
    }),
    // The devices are publishing when the flood starts (a second in) and after it ends.
    sleep(1000).then(() =>
      flood({
        port: gw.port,
        clientId: 'bench-flooder',
        topic: 'sensors/flooder/telemetry',
        payloadBytes: opts.payloadBytes,
        seconds: opts.seconds,
        // A broken device disconnected for staying over its limits comes back and floods on.
        reconnect: true,
      }),
    ),
  ])
  clearInterval(statusTimer)
  const peak = rss.stop()
  const status = await settled(gw)
  const want = devices.acked
  // The flood is forwarded too, in order, before the readings behind it: give the drain its time.
  const deadline = Date.now() + 60_000 + (status.broker.stored / 10_000) * 1000
  while (want.some((p) => !upstream.has(p)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100))
  await sink.endAsync(true)

  const b = status.broker
  const devicePublishes = devices.acked.length + devices.unacked
  // Counted from the start of the flood (the warm-up round came before).
  const floodRead =
    b.publishesReceived -
    before.publishesReceived +
    b.refusedThrottled -
    before.refusedThrottled -
    devicePublishes
  const accounted = b.stored + b.qos0Dropped + b.notStored + b.localOnly + b.refusedUpstreamTopic
  const delivered = want.filter((p) => upstream.has(p)).length
  const p50 = percentileOf(devices.latenciesMs, 50)
  const p99 = percentileOf(devices.latenciesMs, 99)
  const growth = peak - idle

  console.log(
    `\nQoS 0 flood: 1 raw client for ${opts.seconds} s, ${opts.payloadBytes}-byte payloads; ` +
      `${opts.devices} devices × ${opts.rate} QoS 1 msg/s; outbox fsync on ${fsType}; limits ${opts.limits}\n`,
  )
  console.log(
    formatTable(
      [
        { title: 'devices acked', align: 'right' },
        { title: 'unacked', align: 'right' },
        { title: 'PUBACK p50 ms', align: 'right' },
        { title: 'p99 ms', align: 'right' },
        { title: 'max ms', align: 'right' },
        { title: 'RSS idle MiB', align: 'right' },
        { title: 'peak MiB', align: 'right' },
        { title: 'pending peak MiB', align: 'right' },
      ],
      [
        [
          fmtInt(devices.acked.length),
          fmtInt(devices.unacked),
          fmt(p50, 2),
          fmt(p99, 2),
          fmt(Math.max(...devices.latenciesMs), 1),
          fmt(idle / MIB, 1),
          fmt(peak / MIB, 1),
          fmt(pendingPeak / MIB, 2),
        ],
      ],
    ),
  )
  console.log('')
  console.log(
    formatTable(
      [
        { title: 'flood sent', align: 'right' },
        { title: 'flood msgs/s', align: 'right' },
        { title: 'read by gateway', align: 'right' },
        { title: 'stored', align: 'right' },
        { title: 'dropped (qos0)', align: 'right' },
        { title: 'refused (throttled)', align: 'right' },
        { title: 'held back', align: 'right' },
        { title: 'disconnected', align: 'right' },
      ],
      [
        [
          fmtInt(flooded.sent),
          fmtInt(flooded.sent / flooded.seconds),
          fmtInt(floodRead),
          fmtInt(b.stored - before.stored - devicePublishes),
          fmtInt(b.qos0Dropped),
          fmtInt(b.refusedThrottled),
          `${fmtInt(b.throttled)} + ${fmtInt(b.throttledPending)}`,
          fmtInt(b.throttledDisconnects),
        ],
      ],
    ),
  )
  console.log(
    '\nflood sent: PUBLISH packets written to the socket (exactly what the gateway read when it did not ' +
      'disconnect the flooder, which then reconnects); held back: by its limits + for room under maxPendingBytes.',
  )
  const slowest = devices.latenciesMs
    .map((ms, i) => ({ ms, at: devices.sentAtMs[i] ?? 0 }))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, 5)
    .map((x) => `${fmt(x.ms, 0)} ms at ${fmt(x.at / 1000, 2)} s`)
  console.log(`slowest PUBACKs: ${slowest.join(', ')}`)
  const c50 = percentileOf(control.latenciesMs, 50)
  const c99 = percentileOf(control.latenciesMs, 99)
  console.log(
    `control (same devices, no flood, just before): p50 ${fmt(c50, 2)} ms, p99 ${fmt(c99, 2)} ms, ` +
      `max ${fmt(Math.max(...control.latenciesMs), 1)} ms over ${fmtInt(control.acked.length)} readings\n`,
  )
  const targets = {
    p99: { threshold: TARGETS.p99Ms, p99Ms: round(p99, 2), pass: p99 <= TARGETS.p99Ms },
    rss: {
      thresholdBytes: TARGETS.rssGrowthBytes,
      growthBytes: growth,
      pass: growth <= TARGETS.rssGrowthBytes,
    },
  }
  const checks = {
    accounted: { publishesReceived: b.publishesReceived, accounted, pass: accounted === b.publishesReceived },
    floodCount: {
      sent: flooded.sent,
      read: floodRead,
      pass: flooded.closedByBroker === 0 ? floodRead === flooded.sent : floodRead <= flooded.sent,
    },
    upstream: { acked: want.length, delivered, pass: delivered === want.length },
  }
  const verdict = (ok: boolean) => (ok ? 'OK' : 'FAIL')
  console.log(
    `TARGET devices' PUBACK p99 ≤ ${TARGETS.p99Ms} ms: ${fmt(p99, 2)} ms → ${verdict(targets.p99.pass)}`,
  )
  console.log(
    `TARGET gateway RSS peak ≤ idle + 64 MiB: ${fmt(idle / MIB, 1)} → ${fmt(peak / MIB, 1)} MiB ` +
      `(+${fmt(growth / MIB, 1)}; anon ${fmt((idleParts?.anon ?? 0) / MIB, 1)} → ${fmt(rss.peakParts.anon / MIB, 1)}, ` +
      `file ${fmt((idleParts?.file ?? 0) / MIB, 1)} → ${fmt(rss.peakParts.file / MIB, 1)}) → ${verdict(targets.rss.pass)}`,
  )
  console.log(
    `CHECK every publish taken in is stored or counted: ${fmtInt(b.publishesReceived)} received, ` +
      `${fmtInt(accounted)} accounted for → ${verdict(checks.accounted.pass)}`,
  )
  console.log(
    `CHECK the flood's count: ${fmtInt(flooded.sent)} sent, ${fmtInt(floodRead)} read by the gateway` +
      `${flooded.closedByBroker > 0 ? ` (disconnected ${flooded.closedByBroker}×: the rest was in flight)` : ''}` +
      ` → ${verdict(checks.floodCount.pass)}`,
  )
  console.log(
    `CHECK every acknowledged device reading reached mosquitto: ${fmtInt(delivered)}/${fmtInt(want.length)} → ` +
      verdict(checks.upstream.pass),
  )
  printJsonLine({
    bench: 'flood',
    ...machine(fsType),
    options: { ...opts, nodeArgs: undefined, parent: undefined },
    control: { acked: control.acked.length, p50Ms: round(c50, 3), p99Ms: round(c99, 3) },
    devices: {
      acked: devices.acked.length,
      unacked: devices.unacked,
      disconnects: devices.disconnects,
      p50Ms: round(p50, 3),
      p99Ms: round(p99, 3),
    },
    rss: {
      idleBytes: idle,
      peakBytes: peak,
      idleParts,
      peakParts: rss.peakParts,
      pendingPeakBytes: pendingPeak,
    },
    flood: { ...flooded, read: floodRead },
    broker: b,
    targets,
    checks,
  })
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The gateway's status once every publish it took in has settled (bounded). */
async function settled(gw: GatewayChild): Promise<GatewayStatus> {
  const deadline = Date.now() + 60_000
  for (;;) {
    const s = await gw.status()
    const b = s.broker
    const accounted = b.stored + b.qos0Dropped + b.notStored + b.localOnly + b.refusedUpstreamTopic
    if (accounted >= b.publishesReceived || Date.now() > deadline) return s
    await new Promise((r) => setTimeout(r, 100))
  }
}
