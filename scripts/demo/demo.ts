// `npm run demo`: a local "cloud" broker, an Outpost gateway and a simulated fleet, all on loopback. The
// uplink is cut for a while and restored; at the end it prints what happened — sent, acknowledged, peak
// backlog, delivered, lost — and exits 0 only when nothing acknowledged was lost and every device's
// readings arrived in order.
//
//   npm run demo -- [--devices 20] [--rate 10] [--before 5] [--cut 8] [--after 5] [--cloud auto|mosquitto|aedes]
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connectAsync } from 'mqtt'
import { validateConfig } from '../../config/load.js'
import { runFleet } from '../../devices/simulator/fleet.js'
import type { SimReading } from '../../devices/simulator/profiles.js'
import { Gateway } from '../../gateway/gateway.js'
import { createLogger } from '../../gateway/logger.js'
import { TcpProxy } from '../ci/tcp-proxy.js'
import { startCloud } from './cloud.js'

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '20' },
    rate: { type: 'string', default: '10' },
    before: { type: 'string', default: '5' },
    cut: { type: 'string', default: '8' },
    after: { type: 'string', default: '5' },
    cloud: { type: 'string', default: 'auto' },
  },
})
if (!['auto', 'mosquitto', 'aedes'].includes(values.cloud))
  throw new Error('--cloud must be auto, mosquitto or aedes')
const num = (v: string | undefined) => {
  const n = Number(v)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number, got "${v}"`)
  return n
}
const devices = Math.round(num(values.devices))
const rate = num(values.rate)
const before = num(values.before)
const cutFor = num(values.cut)
const after = num(values.after)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const n = (v: number) => Math.round(v).toLocaleString('en-US')
const key = (r: { device: string; seq: number }) => `${r.device}/${r.seq}`

const dir = mkdtempSync(join(tmpdir(), 'outpost-demo-'))
const cloud = await startCloud(join(dir, 'cloud'), values.cloud as 'auto' | 'mosquitto' | 'aedes')
const uplink = await TcpProxy.start(cloud.port)

// The cloud side: an application that receives what the gateway forwards.
const consumer = await connectAsync(cloud.url, { clientId: 'demo-consumer', reconnectPeriod: 200 })
const delivered = new Set<string>()
const lastSeq = new Map<string, number>()
let duplicates = 0
let outOfOrder = 0
consumer.on('message', (_topic, payload) => {
  const r = JSON.parse(payload.toString()) as SimReading
  const k = key(r)
  if (delivered.has(k)) {
    duplicates++
    return
  }
  delivered.add(k)
  if (r.seq < (lastSeq.get(r.device) ?? -1)) outOfOrder++
  lastSeq.set(r.device, Math.max(r.seq, lastSeq.get(r.device) ?? -1))
})
await consumer.subscribeAsync('demo/#', { qos: 1 })

const config = validateConfig(
  {
    gatewayId: 'demo',
    dataDir: join(dir, 'data'),
    log: { level: 'warn' },
    broker: { listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }], allowAnonymous: true },
    outbox: { minFreeDiskBytes: 0, reserveBytes: 0 },
    upstreams: [
      {
        name: 'cloud',
        type: 'mqtt',
        url: uplink.url,
        protocolVersion: cloud.protocolVersion,
        reconnect: { minMs: 200, maxMs: 1000 },
        connectTimeoutMs: 2000,
      },
    ],
    http: { enabled: false },
  },
  'demo',
  { env: {} },
)
const gatewayLog = join(dir, 'gateway.log')
const logStream = createWriteStream(gatewayLog)
const gateway = new Gateway({ config, logger: createLogger({ level: 'info', destination: logStream }) })
await gateway.start()
const gatewayUrl = `mqtt://127.0.0.1:${gateway.listeners[0]?.port}`

const backlog = async () =>
  (await gateway.status()).outbox.cursors.find((c) => c.name === 'cloud')?.backlogMessages ?? 0

console.log(
  `Outpost demo: ${devices} simulated devices → the gateway → a local "cloud"; the uplink is cut for ${cutFor} s.\n`,
)
console.log(`  cloud     ${cloud.kind} on ${cloud.url}`)
console.log(
  `  gateway   MQTT on ${gatewayUrl}, outbox in ${config.dataDir} (durability ${config.outbox.durability})`,
)
console.log(
  `  fleet     ${devices} devices (mixed profile) × ${rate} readings/s, QoS 1, for ${before + cutFor + after} s\n`,
)

let acked = 0
const ackedKeys = new Set<string>()
const started = performance.now()
const t = () => ((performance.now() - started) / 1000).toFixed(1).padStart(5)
let peak = 0
let phase = 'uplink up'
const event = async (what: string) =>
  console.log(
    `  ${t()} s  ${what.padEnd(18)} backlog ${n(await backlog()).padStart(6)}   acked ${n(acked).padStart(6)}   delivered ${n(delivered.size).padStart(6)}`,
  )
const sampler = setInterval(() => {
  void backlog().then((b) => {
    peak = Math.max(peak, b)
  })
}, 100)
const ticker = setInterval(() => void event(phase), 2000)

await event('fleet started')
const fleet = runFleet({
  url: gatewayUrl,
  devices,
  ratePerSec: rate,
  qos: 1,
  profile: 'mixed',
  durationMs: (before + cutFor + after) * 1000,
  idPrefix: 'demo',
  topic: 'demo/{id}/{profile}',
  onAck: (r) => {
    acked++
    ackedKeys.add(key(r))
  },
})
await sleep(before * 1000)
uplink.cut()
phase = 'uplink down'
await event('uplink cut')
await sleep(cutFor * 1000)
uplink.restore()
phase = 'uplink restored'
await event('uplink restored')
const summary = await fleet
phase = 'draining'
await event('fleet stopped')
const drainBy = performance.now() + 60_000
// Delivered, and the gateway's cursor has caught up (it moves once the cloud's acknowledgements are in).
while (
  ([...ackedKeys].some((k) => !delivered.has(k)) || (await backlog()) > 0) &&
  performance.now() < drainBy
) {
  await sleep(100)
}
clearInterval(ticker)
clearInterval(sampler)
peak = Math.max(peak, await backlog())
await event('all delivered')

const lost = [...ackedKeys].filter((k) => !delivered.has(k)).length
console.log(
  `\n  sent ${n(summary.sent)}   acked ${n(summary.acked)}   peak backlog ${n(peak)}   delivered ${n(delivered.size)}   lost ${n(lost)}`,
)
console.log(
  `  (failed ${n(summary.failed)}, duplicates ${n(duplicates)}, ${outOfOrder === 0 ? 'every device in order' : `${n(outOfOrder)} out of order`})`,
)

await gateway.stop()
await consumer.endAsync()
await uplink.close()
await cloud.close()
logStream.end()
const ok = lost === 0 && outOfOrder === 0 && summary.failed === 0
if (ok) rmSync(dir, { recursive: true, force: true })
else console.log(`\n  kept for a look: ${dir} (gateway log: ${gatewayLog})`)
process.exitCode = ok ? 0 : 1
