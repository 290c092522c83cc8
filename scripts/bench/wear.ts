// SD-card wear at realistic loads: `npm run bench -- wear [flags]`.
//
// Sensors report sparsely: 50 or 500 devices each publishing one 100-byte JSON reading a second (QoS 1),
// their phases spread over the second. For each durability mode and commit delay, the real gateway runs
// the load for a while and the benchmark reports, per reading:
// - bytes the gateway process caused to be written (/proc/PID/io write_bytes: LevelDB's log, tables and
//   compactions, whatever the process dirtied);
// - bytes written to the block device holding the data dir (/sys/dev/block/MAJ:MIN/stat, sectors
//   written × 512): this includes the file system's journal — and every other process writing to that
//   device meanwhile, so on a shared machine it is an upper bound; "n/a" where the data dir is on no
//   block device (tmpfs);
// - fsyncs per second (the outbox's synced writes) and the devices' PUBACK latency (p50, p99).
// The gateway runs with the Pi profile (profiles.ts). A card-life estimate follows: life = endurance bytes / (device bytes per reading × readings per day).
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, Mosquitto } from '../ci/mosquitto.js'
import { GatewayChild } from './gateway-child.js'
import { unitNodeArgs } from './profiles.js'
import { RawPublisher } from './raw-publisher.js'
import {
  benchSession,
  choiceFlag,
  fmt,
  fmtInt,
  formatTable,
  listFlag,
  machine,
  numberFlag,
  parseFlags,
  percentile,
  printedUsage,
  printJsonLine,
  round,
} from './report.js'
import { deviceId, deviceTopic, mulberry32, telemetryPayload } from './workload.js'

const USAGE = `usage: npm run bench -- wear [--loads 50,500] [--modes fsync,fsync:5,fsync:20,fsync:50,batch,none]
         [--seconds S] [--warmup S] [--payload-bytes B] [--upstream mosquitto|none] [--dir PARENT]
  --loads          devices, each publishing 1 reading/s (default 50,500)
  --modes          durability[:commitDelayMs] per scenario (default fsync,fsync:5,fsync:20,fsync:50,batch,none)
  --seconds        measured seconds per scenario (default 20)
  --warmup         seconds of load before measuring (default 3)
  --payload-bytes  reading size (default 100)
  --upstream       forward to a local mosquitto (cursor moves and retention write too; default mosquitto
                   when installed) or keep everything (none)
  --dir            parent of the data dirs (default the current directory's .bench/: the disk you care
                   about; os.tmpdir() may be tmpfs)`

interface Scenario {
  devices: number
  durability: 'fsync' | 'batch' | 'none'
  commitDelayMs: number
}

interface Result extends Scenario {
  readings: number
  processBytesPerReading: number | null
  deviceBytesPerReading: number | null
  fsyncsPerSec: number
  pubackP50Ms: number
  pubackP99Ms: number
  unacked: number
}

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const flags = parseFlags(args, ['loads', 'modes', 'seconds', 'warmup', 'payload-bytes', 'upstream', 'dir'])
  const loads = listFlag(flags, 'loads', ['50', '500']).map(Number)
  const modes = listFlag(flags, 'modes', ['fsync', 'fsync:5', 'fsync:20', 'fsync:50', 'batch', 'none'])
  const seconds = numberFlag(flags, 'seconds', 20, true)
  const warmup = numberFlag(flags, 'warmup', 3, true)
  const payloadBytes = numberFlag(flags, 'payload-bytes', 100)
  const upstream = choiceFlag(flags, 'upstream', onPath('mosquitto') ? 'mosquitto' : 'none', [
    'mosquitto',
    'none',
  ])
  const parent = flags.get('dir') ?? join(process.cwd(), '.bench')
  const scenarios: Scenario[] = loads.flatMap((devices) =>
    modes.map((m) => {
      const [durability, delay] = m.split(':')
      if (durability !== 'fsync' && durability !== 'batch' && durability !== 'none')
        throw new Error(`--modes: unknown durability "${durability}"`)
      return { devices, durability, commitDelayMs: Number(delay ?? 0) }
    }),
  )
  await import('node:fs/promises').then((fs) => fs.mkdir(parent, { recursive: true }))
  await benchSession('outpost-wear-', parent, async (session) => {
    const device = blockDevice(session.root)
    console.log(
      `wear: ${scenarios.length} scenarios × ${warmup + seconds} s, ${payloadBytes}-byte readings, upstream ${upstream}, data on ${session.fsType}${device ? ` (${device.name})` : ' (no block device: device bytes n/a)'}`,
    )
    const results: Result[] = []
    for (const [i, scenario] of scenarios.entries()) {
      if (session.signal.aborted) break
      const dir = join(session.root, `s${i}`)
      const result = await runScenario(scenario, {
        dir,
        seconds,
        warmup,
        payloadBytes,
        upstream: upstream === 'mosquitto',
        device,
        signal: session.signal,
      })
      results.push(result)
      console.log(
        `  ${describe(scenario)}: ${fmt(result.deviceBytesPerReading ?? Number.NaN, 0)} B/reading at the device, p99 ${fmt(result.pubackP99Ms, 1)} ms`,
      )
    }
    console.log(report(results))
    printJsonLine({
      benchmark: 'wear',
      machine: machine(session.fsType),
      device: device?.name ?? null,
      upstream,
      seconds,
      payloadBytes,
      results: results.map((r) => ({
        ...r,
        processBytesPerReading: round(r.processBytesPerReading ?? undefined, 1),
        deviceBytesPerReading: round(r.deviceBytesPerReading ?? undefined, 1),
        fsyncsPerSec: round(r.fsyncsPerSec, 1),
        pubackP50Ms: round(r.pubackP50Ms, 2),
        pubackP99Ms: round(r.pubackP99Ms, 2),
      })),
    })
  })
}

interface RunOptions {
  dir: string
  seconds: number
  warmup: number
  payloadBytes: number
  upstream: boolean
  device: BlockDevice | undefined
  signal: AbortSignal
}

async function runScenario(s: Scenario, o: RunOptions): Promise<Result> {
  let mosquitto: Mosquitto | undefined
  if (o.upstream) mosquitto = await Mosquitto.start({ dir: join(o.dir, 'mosquitto'), port: await freePort() })
  const gateway = await GatewayChild.start({
    dir: o.dir,
    dataDir: join(o.dir, 'data'),
    durability: s.durability,
    commitDelayMs: s.commitDelayMs,
    upstream: mosquitto ? { url: `mqtt://127.0.0.1:${mosquitto.port}`, maxInflight: 100 } : undefined,
    // The Pi profile: the unit's node flags and the config's defaults (LevelDB sizes included).
    nodeArgs: unitNodeArgs(),
  })
  const publishers: RawPublisher[] = []
  try {
    for (let d = 0; d < s.devices; d++) {
      publishers.push(await RawPublisher.connect('127.0.0.1', gateway.port, deviceId(d)))
    }
    const load = new SparseLoad(publishers, o.payloadBytes)
    load.start()
    await sleep(o.warmup * 1000, o.signal)
    const before = await snapshot(gateway, o.device)
    load.measure()
    await sleep(o.seconds * 1000, o.signal)
    const after = await snapshot(gateway, o.device)
    const measured = load.stopMeasuring()
    await load.stop()
    const readings = measured.acked
    const per = (bytes: number | undefined) =>
      bytes === undefined || readings === 0 ? null : bytes / readings
    return {
      ...s,
      readings,
      processBytesPerReading: per(
        after.processBytes !== undefined && before.processBytes !== undefined
          ? after.processBytes - before.processBytes
          : undefined,
      ),
      deviceBytesPerReading: per(
        after.deviceBytes !== undefined && before.deviceBytes !== undefined
          ? after.deviceBytes - before.deviceBytes
          : undefined,
      ),
      fsyncsPerSec: (after.synced - before.synced) / o.seconds,
      pubackP50Ms: percentile(measured.latencies, measured.latencies.length, 50),
      pubackP99Ms: percentile(measured.latencies, measured.latencies.length, 99),
      unacked: measured.sent - measured.acked,
    }
  } finally {
    await Promise.all(publishers.map((p) => p.end().catch(() => undefined)))
    await gateway.stop()
    await mosquitto?.kill()
  }
}

/** Every device publishes one reading a second, at a phase of its own within the second. */
class SparseLoad {
  private timers: NodeJS.Timeout[] = []
  private measuring = false
  private sent = 0
  private acked = 0
  private latencies: number[] = []
  private inflight = 0
  private drained: (() => void) | undefined

  constructor(
    private readonly publishers: RawPublisher[],
    private readonly payloadBytes: number,
  ) {}

  start(): void {
    const random = mulberry32(0x77ea4)
    this.publishers.forEach((p, d) => {
      let seq = 0
      const topic = deviceTopic(d)
      const tick = () => {
        const payload = telemetryPayload(seq++, this.payloadBytes, random)
        const counted = this.measuring
        const t0 = performance.now()
        if (counted) this.sent++
        this.inflight++
        p.publish(topic, payload, (err) => {
          this.inflight--
          if (!err && counted && this.measuring) {
            this.acked++
            this.latencies.push(performance.now() - t0)
          }
          if (this.inflight === 0) this.drained?.()
        })
      }
      const phase = setTimeout(() => {
        tick()
        this.timers.push(setInterval(tick, 1000))
      }, random() * 1000)
      this.timers.push(phase)
    })
  }

  measure(): void {
    this.measuring = true
  }

  stopMeasuring(): { sent: number; acked: number; latencies: Float64Array } {
    this.measuring = false
    return { sent: this.sent, acked: this.acked, latencies: Float64Array.from(this.latencies) }
  }

  /** Stops publishing and waits (2 s at most) for the last PUBACKs. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    if (this.inflight === 0) return
    await Promise.race([new Promise<void>((r) => (this.drained = r)), sleep(2000, AbortSignal.timeout(2500))])
  }
}

interface Snapshot {
  processBytes: number | undefined
  deviceBytes: number | undefined
  synced: number
}

async function snapshot(gateway: GatewayChild, device: BlockDevice | undefined): Promise<Snapshot> {
  const status = await gateway.status()
  return {
    processBytes: procWriteBytes(gateway.pid),
    deviceBytes: device ? device.writtenBytes() : undefined,
    synced: status.outbox.writes.synced,
  }
}

/** write_bytes of /proc/PID/io: bytes the process caused to be sent to storage. */
function procWriteBytes(pid: number): number | undefined {
  try {
    const m = /^write_bytes:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

interface BlockDevice {
  name: string
  writtenBytes(): number | undefined
}

/** The block device (or partition) holding `dir`, from its device number; undefined on tmpfs and such. */
function blockDevice(dir: string): BlockDevice | undefined {
  const dev = statSync(dir).dev
  const major = (dev >> 8) & 0xfff
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
  const stat = `/sys/dev/block/${major}:${minor}/stat`
  const written = (): number | undefined => {
    try {
      // Field 7: sectors written (512 bytes each, whatever the device's own sector size).
      const fields = readFileSync(stat, 'utf8').trim().split(/\s+/)
      return Number(fields[6]) * 512
    } catch {
      return undefined
    }
  }
  if (written() === undefined) return undefined
  let name = `${major}:${minor}`
  try {
    name = readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8').match(/DEVNAME=(\S+)/)?.[1] ?? name
  } catch {
    // keep the numbers
  }
  return { name, writtenBytes: written }
}

function describe(s: Scenario): string {
  const mode = s.durability === 'fsync' && s.commitDelayMs > 0 ? `fsync +${s.commitDelayMs} ms` : s.durability
  return `${s.devices} dev × 1/s, ${mode}`
}

function report(results: readonly Result[]): string {
  const rows = results.map((r) => [
    String(r.devices),
    r.durability,
    r.durability === 'fsync' ? String(r.commitDelayMs) : '-',
    fmtInt(r.readings),
    fmt(r.processBytesPerReading ?? Number.NaN, 0),
    r.deviceBytesPerReading === null ? 'n/a' : fmt(r.deviceBytesPerReading, 0),
    fmt(r.fsyncsPerSec, 1),
    fmt(r.pubackP50Ms, 2),
    fmt(r.pubackP99Ms, 2),
  ])
  const table = formatTable(
    [
      { title: 'devices' },
      { title: 'durability' },
      { title: 'delay ms' },
      { title: 'readings' },
      { title: 'B/reading (process)' },
      { title: 'B/reading (device)' },
      { title: 'fsyncs/s' },
      { title: 'PUBACK p50 ms' },
      { title: 'p99 ms' },
    ],
    rows,
  )
  const lines = [
    table,
    '',
    'card life ≈ endurance bytes / (device B/reading × readings per day); for example:',
  ]
  for (const r of results) {
    if (r.deviceBytesPerReading === null || r.deviceBytesPerReading <= 0) continue
    const perDay = r.devices * 86_400
    // A 32 GB card rated for about 3,000 program/erase cycles: ~96 TB written (less write amplification).
    const years = 96e12 / (r.deviceBytesPerReading * perDay) / 365
    lines.push(
      `  ${describe(r)}: ${fmt((r.deviceBytesPerReading * perDay) / 2 ** 20, 0)} MiB/day → ~${fmt(years, 1)} years for 96 TB`,
    )
  }
  return lines.join('\n')
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, bin)))
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
