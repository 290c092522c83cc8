// Backlog drain against the limit: `npm run bench -- drain [flags]`.
//
// An outbox is pre-filled with N queued ~100-byte messages (Outbox.append in large batches, the record
// shape the broker stores: topic, payload, QoS 1, to "all"), then the real gateway (`node
// dist/gateway/cli.js start`) starts on it with its MQTT upstream pointing at a mosquitto that is down.
// Once the gateway is up, mosquitto starts and the gateway drains the backlog into it; a sink subscriber
// in this process (drain-sink.ts) counts the messages by their identity and times the first and last.
// The sink's persistent session exists before the gateway starts (created on a first mosquitto run), so
// whatever the gateway sends while the sink reconnects is queued for it, not lost.
//
// The limit, in the same run: mqtt.js publishing the same N messages (same topics, payloads, user
// properties, QoS 1, window = the gateway's maxInflight) to the same mosquitto and sink from a child
// process (drain-publisher.ts). It runs before and after the gateway's drain (drift on a shared machine
// hits both sides alike) and the drain is compared with their mean.
//
// Memory: the same gateway on a small backlog (default 10k) first; RSS after start-up and over the drain
// for both backlogs, split into anonymous memory and mapped files (LevelDB maps its table files).
// DESIGN.md: memory use does not grow with the backlog.
//
// Profiles (profiles.ts): each gateway phase runs once per profile — `default` (no node flags, LevelDB at
// classic-level's sizes) and `pi` (the unit's node flags, the config's defaults) — on outboxes filled alike.
//
// Targets: drain rate ≥ 80% of the limit; gateway RSS at N within 10% of the RSS at the small backlog.
// Pi profile (issue #11): RSS after start-up ≤ 64 MiB, peak RSS over the drain of N ≤ 128 MiB, at
// ≥ 90% of the default profile's drain rate.
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Outbox } from '../../store/outbox.js'
import type { OutboxRecord } from '../../store/record-codec.js'
import { Mosquitto } from '../ci/mosquitto.js'
import type { PublisherArgs } from './drain-publisher.js'
import { DrainSink } from './drain-sink.js'
import { GatewayChild, gatewayNodeArgs } from './gateway-child.js'
import { NodeChild } from './node-child.js'
import { type Profile, profiles } from './profiles.js'
import {
  benchSession,
  type CpuSpent,
  cpuBetween,
  cpuMeter,
  fmt,
  fmtInt,
  formatTable,
  machine,
  nowMs,
  numberFlag,
  type ProcMemory,
  parseFlags,
  printedUsage,
  printJsonLine,
  readProcCpu,
  readProcMemory,
  round,
} from './report.js'
import { deviceId, deviceTopic, telemetryPayloads } from './workload.js'

const TARGETS = { drainRatio: 0.8, rssRatio: 1.1, piStartupMiB: 64, piPeakMiB: 128, piRateRatio: 0.9 }
/**
 * Gateway ids (the outpost-gateway user property) per phase, all the same length: a message mosquitto
 * redelivers to the resumed sink session from an earlier phase is not counted in the next one.
 */
const PHASE_IDS = ['bench-a', 'bench-b', 'bench-c', 'bench-d', 'bench-e', 'bench-f', 'bench-g'] as const
const DEVICES = 10
const FILL_BATCH = 4096
const FILL_CONCURRENCY = 4
const RSS_SAMPLE_MS = 100
const PROGRESS_EVERY_MS = 10_000
const FLAGS = [
  'messages',
  'baseline-messages',
  'inflight',
  'payload-bytes',
  'limit-runs',
  'timeout-seconds',
  'settle-ms',
  'dir',
  'cpu-prof',
  'gateway-node-args',
  'profiles',
] as const

const USAGE = `usage: npm run bench -- drain [--messages N] [--baseline-messages N] [--inflight W]
         [--payload-bytes B] [--limit-runs 1|2] [--timeout-seconds S] [--settle-ms MS] [--dir PARENT]
         [--cpu-prof DIR] [--gateway-node-args ARGS] [--profiles default,pi]
  --messages           backlog to drain (default 1000000)
  --baseline-messages  small backlog for the memory comparison (default 10000)
  --inflight           the gateway's maxInflight and the limit publisher's window (default 100)
  --payload-bytes      payload size (default 100)
  --limit-runs         limit runs: 2 = before and after the gateway's drain (default), 1 = after only
  --timeout-seconds    time limit of each drain (default 150)
  --settle-ms          wait after the gateway is ready before reading its start-up RSS (default 1000)
  --dir                parent of the temporary dir (default os.tmpdir())
  --cpu-prof           write a V8 CPU profile of each gateway child into DIR (on stop)
  --gateway-node-args  more arguments for node running the gateway (space-separated)
  --profiles           gateway profiles to run, comma-separated (default "default,pi"; see profiles.ts)`

interface Options {
  messages: number
  baselineMessages: number
  inflight: number
  payloadBytes: number
  limitRuns: number
  timeoutSec: number
  settleMs: number
  parent: string
  profiles: Profile[]
}

type Sender = 'gateway' | 'limit'

interface DrainResult {
  sender: Sender
  /** The gateway's profile (profiles.ts). */
  profile?: Profile['name']
  backlog: number
  unique: number
  duplicates: number
  /** Messages of an earlier phase (redelivered by mosquitto to the resumed sink session). */
  stale: number
  /** First to last message at the sink. */
  seconds: number
  perSec: number
  /** From the moment the messages could flow (mosquitto up / publisher spawned) to the last one. */
  secondsFromStart: number
  /** Sender process CPU per message: all threads, and the main thread (gateway only). */
  senderCpuUsPerMsg: number
  senderMainUsPerMsg: number | undefined
  mosquittoCpuUsPerMsg: number | undefined
  sinkCpuUsPerMsg: number
  /** Gateway: VmHWM; limit: the publisher's maxRSS. */
  peakRssBytes: number | undefined
  gateway?: GatewayFigures
}

interface GatewayFigures {
  /** After start-up and the settle time, the backlog waiting. */
  startup: ProcMemory | undefined
  /** Highest VmRSS and RssAnon sampled while draining. */
  drainMaxRssBytes: number
  drainMaxAnonBytes: number
  /** RSS when a quarter, half, three quarters and all of the backlog had arrived. */
  progress: ProgressMemory[]
  /**
   * RSS when the first `baselineMessages` had arrived: the same point of the drain for every backlog,
   * so a difference comes from the backlog's size, not from how long the process has been draining.
   */
  atBaseline: ProgressMemory | undefined
  /** From GET /api/status after the drain. */
  position: number
  backlogAfter: number
  /** Upstream connections made (more than 1: it reconnected and resent a window). */
  connects: number
}

interface ProgressMemory {
  /** Fraction of the backlog at the sink when sampled. */
  drained: number
  rssBytes: number
  anonBytes: number
}

const PROGRESS_POINTS = [0.25, 0.5, 0.75, 1]

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const opts = parseOptions(args)
  await benchSession('outpost-bench-drain-', opts.parent, async ({ root, signal, started, fsType }) => {
    let mosquitto: Mosquitto | undefined
    let sink: DrainSink | undefined
    try {
      const payloads = telemetryPayloads(256, opts.payloadBytes)
      const dirs = new Map<string, { baseline: string; backlog: string }>()
      const t = nowMs()
      for (const p of opts.profiles) {
        const d = {
          baseline: join(root, `gw-${p.name}-baseline`),
          backlog: join(root, `gw-${p.name}-backlog`),
        }
        dirs.set(p.name, d)
        await fillOutbox(join(d.baseline, 'data'), opts.baselineMessages, payloads)
        await fillOutbox(join(d.backlog, 'data'), opts.messages, payloads)
      }
      const fillSec = (nowMs() - t) / 1000
      console.error(
        `filled outboxes: ${fmtInt(opts.baselineMessages)} + ${fmtInt(opts.messages)} ×${opts.profiles.length} in ${fmt(fillSec, 1)} s`,
      )

      // The sink's persistent session first, then mosquitto down: a gateway starts against a dead upstream.
      mosquitto = await Mosquitto.start({ dir: join(root, 'mosquitto'), persistence: true })
      sink = new DrainSink(mosquitto.url, `bench-sink-${process.pid}`)
      await sink.start()
      await mosquitto.stop()

      const ids = [...PHASE_IDS]
      const phaseId = () => ids.shift() as string
      const results: DrainResult[] = []
      const run = async (label: string, phase: () => Promise<DrainResult>) => {
        if (signal.aborted) throw new Error('interrupted')
        const r = await phase()
        results.push(r)
        console.error(`${label}: ${fmtInt(r.unique)} in ${fmt(r.seconds, 2)} s, ${fmtInt(r.perSec)} msgs/s`)
      }
      const ctx = { mosquitto, sink, opts, signal: signal }
      if (opts.limitRuns > 1) await run('limit (before)', () => drainLimit(ctx, phaseId()))
      for (const p of opts.profiles) {
        const d = dirs.get(p.name) as { baseline: string; backlog: string }
        await run(`gateway (${p.name}), ${fmtInt(opts.baselineMessages)} backlog`, () =>
          drainGateway(ctx, p, d.baseline, opts.baselineMessages, phaseId()),
        )
        await run(`gateway (${p.name}), ${fmtInt(opts.messages)} backlog`, () =>
          drainGateway(ctx, p, d.backlog, opts.messages, phaseId()),
        )
      }
      await run('limit (after)', () => drainLimit(ctx, phaseId()))
      report(opts, results, fsType, fillSec, sink.connectionErrors, (nowMs() - started) / 1000)
    } finally {
      await sink?.close().catch((err: unknown) => console.error(err))
      await mosquitto?.stop().catch((err: unknown) => console.error(err))
    }
  })
}

function parseOptions(args: string[]): Options {
  const flags = parseFlags(args, FLAGS)
  const opts: Options = {
    messages: numberFlag(flags, 'messages', 1_000_000),
    baselineMessages: numberFlag(flags, 'baseline-messages', 10_000),
    inflight: numberFlag(flags, 'inflight', 100),
    payloadBytes: numberFlag(flags, 'payload-bytes', 100),
    limitRuns: numberFlag(flags, 'limit-runs', 2),
    timeoutSec: numberFlag(flags, 'timeout-seconds', 150, true),
    settleMs: numberFlag(flags, 'settle-ms', 1000),
    parent: flags.get('dir') ?? tmpdir(),
    profiles: profiles((flags.get('profiles') ?? 'default,pi').split(','), gatewayNodeArgs(flags)),
  }
  // The sink keeps one byte per message number.
  if (Math.max(opts.messages, opts.baselineMessages) > 50_000_000)
    throw new Error('--messages: at most 50000000')
  if (opts.inflight > 65_535) throw new Error('--inflight: at most 65535')
  if (opts.limitRuns > 2) throw new Error('--limit-runs: 1 or 2')
  return opts
}

// ---------------------------------------------------------------- backlog

/** The records the broker would have stored for `count` device publishes (seq s from device (s-1) % 10). */
async function fillOutbox(dataDir: string, count: number, payloads: readonly Buffer[]): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  // Durability none while filling; close() syncs what was written.
  const outbox = await Outbox.open({ dir: dataDir, durability: 'none' })
  try {
    const ts = Date.now()
    const record = (seq: number): OutboxRecord => {
      const device = (seq - 1) % DEVICES
      return {
        topic: deviceTopic(device),
        payload: payloads[(seq - 1) % payloads.length] as Buffer,
        qos: 1,
        retain: false,
        ts,
        origin: deviceId(device),
        to: 'all',
      }
    }
    let next = 1
    const appender = async () => {
      while (next <= count) {
        const first = next
        const n = Math.min(FILL_BATCH, count - first + 1)
        next += n
        await outbox.append(Array.from({ length: n }, (_, i) => record(first + i)))
      }
    }
    await Promise.all(Array.from({ length: FILL_CONCURRENCY }, appender))
    if (outbox.lastSeq !== count) throw new Error(`filled ${outbox.lastSeq} records, wanted ${count}`)
  } finally {
    await outbox.close()
  }
}

// ---------------------------------------------------------------- drains

interface Context {
  mosquitto: Mosquitto
  sink: DrainSink
  opts: Options
  /** Aborted on SIGINT: the drain in progress stops and everything is cleaned up. */
  signal: AbortSignal
}

/** Starts the gateway on `dir` (mosquitto down), then mosquitto, and times the drain at the sink. */
async function drainGateway(
  ctx: Context,
  profile: Profile,
  dir: string,
  backlog: number,
  gatewayId: string,
): Promise<DrainResult> {
  const { mosquitto, sink, opts } = ctx
  const gw = await GatewayChild.start({
    dir,
    dataDir: join(dir, 'data'),
    gatewayId,
    durability: 'fsync',
    upstream: { url: mosquitto.url, maxInflight: opts.inflight },
    nodeArgs: profile.nodeArgs,
    outbox: profile.outbox,
  })
  try {
    await new Promise((r) => setTimeout(r, opts.settleMs))
    const startup = readProcMemory(gw.pid)
    const before = await gw.status()
    const waiting = before.outbox.cursors.find((c) => c.name === 'cloud')?.backlogMessages
    if (waiting !== backlog) throw new Error(`gateway sees a backlog of ${waiting}, expected ${backlog}`)

    sink.reset(backlog, gatewayId)
    const memory = { rss: 0, anon: 0 }
    const progress: ProgressMemory[] = []
    let atBaseline: ProgressMemory | undefined
    const sample = () => {
      const m = readProcMemory(gw.pid)
      if (!m) return
      memory.rss = Math.max(memory.rss, m.rssBytes)
      memory.anon = Math.max(memory.anon, m.anonBytes)
      if (atBaseline === undefined && sink.counts.unique >= Math.min(opts.baselineMessages, backlog)) {
        atBaseline = { drained: sink.counts.unique / backlog, rssBytes: m.rssBytes, anonBytes: m.anonBytes }
      }
      // The first sample past each quarter of the drain: flat from 25% to 100% means no growth with it.
      const drained = sink.counts.unique / backlog
      const quarter = PROGRESS_POINTS[progress.length]
      if (quarter !== undefined && drained >= quarter)
        progress.push({ drained, rssBytes: m.rssBytes, anonBytes: m.anonBytes })
    }
    const stopSampling = sampleWhileDraining(sample, sink, `gateway ${gatewayId}`)
    const gwCpu0 = readProcCpu(gw.pid)
    const sinkCpu = cpuMeter()
    const t0 = nowMs()
    let spent: { gw: CpuSpent | undefined; mq: CpuSpent | undefined; sink: CpuSpent }
    try {
      await mosquitto.run()
      const mqCpu0 = readProcCpu(mosquitto.pid as number)
      await sink.waitAll(opts.timeoutSec * 1000, ctx.signal)
      spent = {
        gw: cpuBetween(gwCpu0, readProcCpu(gw.pid)),
        mq: cpuBetween(mqCpu0, readProcCpu(mosquitto.pid as number)),
        sink: sinkCpu(),
      }
      sample()
    } finally {
      stopSampling()
    }
    const peakRss = readProcMemory(gw.pid)?.hwmBytes
    const after = await settledStatus(gw, backlog)
    return {
      ...result('gateway', backlog, sink, t0, spent.gw, spent.mq, spent.sink),
      profile: profile.name,
      peakRssBytes: peakRss,
      gateway: {
        startup,
        drainMaxRssBytes: memory.rss,
        drainMaxAnonBytes: memory.anon,
        progress,
        atBaseline,
        ...after,
      },
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${gw.describe()}`)
  } finally {
    await gw.stop()
    // Down again for the next gateway (the sink's session keeps anything still queued for it).
    await mosquitto.stop()
  }
}

/** Samples every RSS_SAMPLE_MS and reports progress every PROGRESS_EVERY_MS; returns the stop function. */
function sampleWhileDraining(sample: () => void, sink: DrainSink, label: string): () => void {
  let lastReport = nowMs()
  const timer = setInterval(() => {
    sample()
    if (nowMs() - lastReport >= PROGRESS_EVERY_MS) {
      lastReport = nowMs()
      console.error(`  ${label}: ${fmtInt(sink.counts.unique)} received`)
    }
  }, RSS_SAMPLE_MS)
  return () => clearInterval(timer)
}

/** The cursor is committed shortly after the last acknowledgement: polls /api/status briefly for it. */
async function settledStatus(
  gw: GatewayChild,
  backlog: number,
): Promise<{ position: number; backlogAfter: number; connects: number }> {
  const deadline = nowMs() + 5000
  for (;;) {
    const s = await gw.status()
    const up = s.upstreams.find((u) => u.name === 'cloud')
    const position = up && 'position' in up ? up.position : -1
    const connects = up && 'connects' in up ? up.connects : -1
    const backlogAfter = s.outbox.cursors.find((c) => c.name === 'cloud')?.backlogMessages ?? -1
    if ((position >= backlog && backlogAfter === 0) || nowMs() > deadline)
      return { position, backlogAfter, connects }
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** mqtt.js publishing the same messages from a child process, mosquitto up and the sink connected. */
async function drainLimit(ctx: Context, gatewayId: string): Promise<DrainResult> {
  const { mosquitto, sink, opts } = ctx
  await mosquitto.run()
  try {
    await sink.waitConnected(10_000)
    sink.reset(opts.messages, gatewayId)
    const args: PublisherArgs = {
      url: mosquitto.url,
      messages: opts.messages,
      inflight: opts.inflight,
      payloadBytes: opts.payloadBytes,
      devices: DEVICES,
      gatewayId,
      seconds: opts.timeoutSec,
    }
    const script = fileURLToPath(new URL('./drain-publisher.js', import.meta.url))
    const mqCpu0 = readProcCpu(mosquitto.pid as number)
    const sinkCpu = cpuMeter()
    const t0 = nowMs()
    const child = NodeChild.start('limit publisher', script, [JSON.stringify(args)])
    const stopSampling = sampleWhileDraining(() => {}, sink, `limit ${gatewayId}`)
    try {
      await sink.waitAll(opts.timeoutSec * 1000, ctx.signal)
      const mqCpu = cpuBetween(mqCpu0, readProcCpu(mosquitto.pid as number))
      const sinkSpent = sinkCpu()
      const done = await child.waitForLine((l) => l.msg === 'done', 30_000)
      const senderCpu = { processUs: done.cpuUs as number, mainThreadUs: Number.NaN }
      return {
        ...result('limit', opts.messages, sink, t0, senderCpu, mqCpu, sinkSpent),
        senderMainUsPerMsg: undefined,
        peakRssBytes: done.maxRssBytes as number,
      }
    } finally {
      stopSampling()
      await child.stop(5000)
    }
  } finally {
    await mosquitto.stop()
  }
}

function result(
  sender: Sender,
  backlog: number,
  sink: DrainSink,
  t0: number,
  senderCpu: CpuSpent | undefined,
  mqCpu: CpuSpent | undefined,
  sinkCpu: CpuSpent,
): Omit<DrainResult, 'peakRssBytes' | 'gateway'> {
  const { unique, duplicates, foreign } = sink.counts
  const { firstAt, lastAt } = sink.times
  const seconds = ((lastAt ?? Number.NaN) - (firstAt ?? Number.NaN)) / 1000
  return {
    sender,
    backlog,
    unique,
    duplicates,
    stale: foreign,
    seconds,
    perSec: unique / seconds,
    secondsFromStart: ((lastAt ?? Number.NaN) - t0) / 1000,
    senderCpuUsPerMsg: (senderCpu?.processUs ?? Number.NaN) / unique,
    senderMainUsPerMsg: (senderCpu?.mainThreadUs ?? Number.NaN) / unique,
    mosquittoCpuUsPerMsg: mqCpu ? mqCpu.processUs / unique : undefined,
    sinkCpuUsPerMsg: sinkCpu.processUs / unique,
  }
}

// ---------------------------------------------------------------- report

function report(
  opts: Options,
  results: DrainResult[],
  fsType: string,
  fillSec: number,
  sinkErrors: number,
  durationSec: number,
): void {
  const ofProfile = (name: string) => {
    const gateway = results.filter((r) => r.sender === 'gateway' && r.profile === name)
    return {
      baseline: gateway.find((r) => r.backlog === opts.baselineMessages),
      big: gateway.findLast((r) => r.backlog === opts.messages),
    }
  }
  const { baseline, big } = ofProfile(opts.profiles[0]?.name ?? 'default')
  const limits = results.filter((r) => r.sender === 'limit')
  const limitRate = limits.reduce((sum, r) => sum + r.perSec, 0) / limits.length
  const mib = (n: number | undefined) => (n === undefined ? undefined : n / 2 ** 20)

  console.log(
    `backlog drain benchmark: ${fmtInt(opts.messages)} queued ${opts.payloadBytes}-byte messages → mosquitto, ` +
      `QoS 1, window ${opts.inflight}; outbox on ${fsType} (filled in ${fmt(fillSec, 1)} s)`,
  )
  console.log('')
  const rows = results.map((r) => [
    r.sender === 'gateway' ? `outpost gateway (${r.profile})` : 'limit: mqtt.js publisher',
    fmtInt(r.backlog),
    fmtInt(r.perSec),
    `${fmt((r.perSec / limitRate) * 100, 1)}%`,
    fmt(r.seconds, 2),
    fmt(r.secondsFromStart, 2),
    fmt(r.senderCpuUsPerMsg, 1),
    fmt(r.senderMainUsPerMsg, 1),
    fmt(r.mosquittoCpuUsPerMsg, 1),
    fmt(r.sinkCpuUsPerMsg, 1),
    r.gateway?.startup
      ? `${fmt(mib(r.gateway.startup.rssBytes), 1)} (${fmt(mib(r.gateway.startup.anonBytes), 1)})`
      : '-',
    r.gateway
      ? `${fmt(mib(r.gateway.drainMaxRssBytes), 1)} (${fmt(mib(r.gateway.drainMaxAnonBytes), 1)})`
      : '-',
    fmt(mib(r.peakRssBytes), 1),
    `${fmtInt(r.unique)}${r.duplicates > 0 ? ` +${fmtInt(r.duplicates)} dup` : ''}` +
      (r.stale > 0 ? ` +${fmtInt(r.stale)} stale` : ''),
  ])
  console.log(
    formatTable(
      [
        { title: 'sender', align: 'left' },
        { title: 'backlog' },
        { title: 'msgs/s' },
        { title: 'vs limit' },
        { title: 'secs' },
        { title: 'from start' },
        { title: 'sender µs/msg' },
        { title: 'main µs/msg' },
        { title: 'mosq µs/msg' },
        { title: 'sink µs/msg' },
        { title: 'RSS start (anon) MiB' },
        { title: 'RSS drain (anon) MiB' },
        { title: 'peak MiB' },
        { title: 'received' },
      ],
      rows,
    ),
  )
  console.log('')
  for (const note of [
    'msgs/s: distinct messages at the sink / time from its first to its last; vs limit: against the mean',
    `  of the limit runs (${limits.map((r) => fmtInt(r.perSec)).join(', ')} msgs/s). from start: from mosquitto's`,
    "  start (gateway) or the publisher's spawn (limit) to the last message, in seconds.",
    'sender µs/msg: CPU of the gateway (all threads; main: its JavaScript thread) or of the publisher process.',
    'RSS start: gateway VmRSS after start-up + settle, backlog waiting; RSS drain: highest VmRSS sampled',
    `  every ${RSS_SAMPLE_MS} ms while draining; (anon): RssAnon, the rest is mapped files (LevelDB tables).`,
    "  peak: VmHWM over the gateway's life; for the limit, the publisher's maxRSS.",
    'stale: messages of an earlier phase mosquitto redelivered to the resumed sink session (not counted).',
  ])
    console.log(note)
  if (big?.gateway) {
    const g = big.gateway
    const ok = g.position === opts.messages && g.backlogAfter === 0 && big.duplicates === 0
    console.log(
      `CHECK gateway after the drain: cursor ${fmtInt(g.position)}, backlog ${fmtInt(g.backlogAfter)}, ` +
        `${g.connects} upstream connection(s), ${big.duplicates} duplicates → ${ok ? 'OK' : 'MISMATCH'} ` +
        `(sink connection errors while mosquitto was down: ${sinkErrors})`,
    )
  }

  for (const r of results) {
    if (!r.gateway || r.gateway.progress.length === 0) continue
    console.log(
      `gateway (${r.profile}) RSS (anon) over the ${fmtInt(r.backlog)} drain: ` +
        r.gateway.progress
          .map((p) => `${fmt(p.drained * 100, 0)}% ${fmt(mib(p.rssBytes), 1)} (${fmt(mib(p.anonBytes), 1)})`)
          .join(', ') +
        ' MiB',
    )
  }

  const drainRatio = big ? big.perSec / limitRate : undefined
  const drainPass = drainRatio === undefined ? undefined : drainRatio >= TARGETS.drainRatio
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : undefined
  const startupRatio = ratio(big?.gateway?.startup?.rssBytes, baseline?.gateway?.startup?.rssBytes)
  const drainRssRatio = ratio(big?.gateway?.drainMaxRssBytes, baseline?.gateway?.drainMaxRssBytes)
  const drainAnonRatio = ratio(big?.gateway?.drainMaxAnonBytes, baseline?.gateway?.drainMaxAnonBytes)
  // The target compares like with like: holding the backlog (after start-up), and at the same point of
  // the drain (the first baselineMessages sent). The peak over a whole drain is reported too, but it
  // grows with how long the process runs (V8 heap, LevelDB's mapped tables), not with the backlog.
  const sameProgressRatio = ratio(big?.gateway?.atBaseline?.rssBytes, baseline?.gateway?.atBaseline?.rssBytes)
  const rssPass =
    startupRatio === undefined || sameProgressRatio === undefined
      ? undefined
      : startupRatio <= TARGETS.rssRatio && sameProgressRatio <= TARGETS.rssRatio
  const verdict = (pass: boolean | undefined) => (pass ? 'PASS' : 'FAIL')
  console.log(
    `TARGET drain ≥ ${TARGETS.drainRatio * 100}% of the limit: ${fmt((drainRatio ?? Number.NaN) * 100, 1)}% → ` +
      verdict(drainPass),
  )
  console.log(
    `TARGET gateway RSS at ${fmtInt(opts.messages)} within ${fmt((TARGETS.rssRatio - 1) * 100, 0)}% of ` +
      `${fmtInt(opts.baselineMessages)}: start-up ×${fmt(startupRatio, 3)}, after the first ` +
      `${fmtInt(opts.baselineMessages)} drained ×${fmt(sameProgressRatio, 3)} → ${verdict(rssPass)} ` +
      `(peak over the whole drain ×${fmt(drainRssRatio, 3)}, anon ×${fmt(drainAnonRatio, 3)}: grows with drain time)`,
  )
  const pi = ofProfile('pi')
  const def = ofProfile('default')
  const piTargets = pi.big?.gateway
    ? {
        startupMiB: mib(pi.big.gateway.startup?.rssBytes),
        peakMiB: mib(pi.big.peakRssBytes),
        rateRatio: ratio(pi.big.perSec, def.big?.perSec),
        rssRatio: ratio(pi.big.gateway.atBaseline?.rssBytes, pi.baseline?.gateway?.atBaseline?.rssBytes),
      }
    : undefined
  if (piTargets) {
    const t = piTargets
    console.log(
      `TARGET pi profile (${opts.profiles.find((p) => p.name === 'pi')?.nodeArgs.join(' ')}): RSS after start-up ` +
        `${fmt(t.startupMiB, 1)} MiB ≤ ${TARGETS.piStartupMiB} → ${verdict((t.startupMiB ?? 1e9) <= TARGETS.piStartupMiB)}; ` +
        `peak over the ${fmtInt(opts.messages)} drain ${fmt(t.peakMiB, 1)} MiB ≤ ${TARGETS.piPeakMiB} → ` +
        `${verdict((t.peakMiB ?? 1e9) <= TARGETS.piPeakMiB)}; drain rate ${fmt((t.rateRatio ?? Number.NaN) * 100, 1)}% ` +
        `of the default profile's ≥ ${TARGETS.piRateRatio * 100}% → ${verdict((t.rateRatio ?? 0) >= TARGETS.piRateRatio)}; ` +
        `RSS at ${fmtInt(opts.messages)} vs ${fmtInt(opts.baselineMessages)} at the same point ×${fmt(t.rssRatio, 3)} → ` +
        verdict((t.rssRatio ?? 1e9) <= TARGETS.rssRatio),
    )
  }
  console.log(`total ${fmt(durationSec, 1)} s`)

  const json = (r: DrainResult) => ({
    sender: r.sender,
    profile: r.profile ?? null,
    backlog: r.backlog,
    msgsPerSec: round(r.perSec, 1),
    seconds: round(r.seconds, 3),
    secondsFromStart: round(r.secondsFromStart, 3),
    unique: r.unique,
    duplicates: r.duplicates,
    stale: r.stale,
    senderCpuUsPerMsg: round(r.senderCpuUsPerMsg, 2),
    senderMainThreadUsPerMsg: round(r.senderMainUsPerMsg, 2),
    mosquittoCpuUsPerMsg: round(r.mosquittoCpuUsPerMsg, 2),
    sinkCpuUsPerMsg: round(r.sinkCpuUsPerMsg, 2),
    peakRssBytes: r.peakRssBytes ?? null,
    gateway: r.gateway ?? null,
  })
  printJsonLine({
    bench: 'drain',
    ...machine(fsType),
    options: {
      messages: opts.messages,
      baselineMessages: opts.baselineMessages,
      inflight: opts.inflight,
      payloadBytes: opts.payloadBytes,
      limitRuns: opts.limitRuns,
      timeoutSec: opts.timeoutSec,
      settleMs: opts.settleMs,
      profiles: opts.profiles,
    },
    fillSec: round(fillSec, 2),
    durationSec: round(durationSec, 1),
    results: results.map(json),
    limitMsgsPerSec: round(limitRate, 1),
    targets: {
      drainVsLimit: { threshold: TARGETS.drainRatio, ratio: round(drainRatio, 4), pass: drainPass ?? null },
      rssVsBaseline: {
        threshold: TARGETS.rssRatio,
        startupRatio: round(startupRatio, 4),
        sameProgressRatio: round(sameProgressRatio, 4),
        drainRatio: round(drainRssRatio, 4),
        drainAnonRatio: round(drainAnonRatio, 4),
        pass: rssPass ?? null,
      },
      pi: piTargets
        ? {
            startupMiB: round(piTargets.startupMiB, 1),
            peakMiB: round(piTargets.peakMiB, 1),
            rateVsDefault: round(piTargets.rateRatio, 4),
            rssRatio: round(piTargets.rssRatio, 4),
            pass:
              (piTargets.startupMiB ?? 1e9) <= TARGETS.piStartupMiB &&
              (piTargets.peakMiB ?? 1e9) <= TARGETS.piPeakMiB &&
              (piTargets.rateRatio ?? 0) >= TARGETS.piRateRatio &&
              (piTargets.rssRatio ?? 1e9) <= TARGETS.rssRatio,
          }
        : null,
    },
  })
}
