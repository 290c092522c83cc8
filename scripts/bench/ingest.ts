// MQTT ingest against the brokers it should keep up with: `npm run bench -- ingest [flags]`.
//
// Brokers under test, each a child process on loopback, all started up front and measured in turns:
// - outpost: the real gateway (`node dist/gateway/cli.js start`), durability fsync (--durability), no
//   upstreams (every message stays in the outbox), HTTP on, log level warn, broker.limits set too high
//   to bite (each load client is a flood by the defaults' measure);
// - outpost-pi: the same gateway with the Pi profile (profiles.ts: the unit's node flags, the config's
//   LevelDB sizes); `outpost` runs with no node flags and classic-level's sizes;
// - aedes-memory: the same aedes with its defaults and in-memory persistence (aedes-memory-broker.ts):
//   what the gateway's broker costs before the outbox;
// - mosquitto: Debian's mosquitto (scripts/ci/mosquitto.ts), for scale.
// The load (mqtt-load.ts) runs in this process, so the broker has a core and the load the other. Its
// clients are hand-encoded MQTT (raw-publisher.ts) unless --client mqttjs: mqtt.js costs about as much
// CPU per message as the brokers, so one core of it cannot saturate them (the load cpu% column shows it).
//
// Scenario "throughput": C clients × W QoS 1 publishes in flight, M messages in all (~100-byte payloads);
// msgs/s counts acknowledged publishes. Scenario "latency": 1 publish in flight per client. Each broker is
// warmed up, then runs in turns (order reversed every other repeat) and the best repeat is kept.
// Broker CPU comes from /proc/PID/stat (every thread) and /proc/PID/task/PID/schedstat (its main thread),
// peak RSS from /proc/PID/status (VmHWM).
//
// Targets: outpost msgs/s ≥ 90% of aedes-memory; outpost PUBACK p50 ≤ 0.5 ms with 1 in flight. The Pi
// profile's figures (msgs/s against outpost's, peak RSS ≤ 128 MiB) are printed beside them.
// Check: after the runs the gateway's outbox holds every message it acknowledged (GET /api/status).
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Durability } from '../../store/outbox.js'
import { Mosquitto } from '../ci/mosquitto.js'
import { GatewayChild, gatewayNodeArgs } from './gateway-child.js'
import { LOAD_CLIENTS, type LoadClient, runLoad } from './mqtt-load.js'
import { NodeChild } from './node-child.js'
import { profiles } from './profiles.js'
import {
  benchSession,
  choiceFlag,
  cpuBetween,
  fmt,
  fmtInt,
  formatTable,
  listFlag,
  machine,
  nowMs,
  numberFlag,
  parseFlags,
  percentile,
  printedUsage,
  printJsonLine,
  readProcCpu,
  readProcMemory,
  round,
} from './report.js'
import { telemetryPayloads } from './workload.js'

const BROKERS = ['outpost', 'outpost-pi', 'aedes-memory', 'mosquitto'] as const
type BrokerName = (typeof BROKERS)[number]
type Scenario = 'throughput' | 'latency'

const TARGETS = { throughputRatio: 0.9, latencyP50Ms: 0.5 }
const DURABILITIES: readonly Durability[] = ['fsync', 'batch', 'none']
const MAX_MESSAGES = 20_000_000
const FLAGS = [
  'messages',
  'clients',
  'inflight',
  'seconds',
  'repeats',
  'warmup',
  'latency-messages',
  'latency-seconds',
  'payload-bytes',
  'brokers',
  'dir',
  'cpu-prof',
  'gateway-node-args',
  'client',
  'durability',
  'broker-persistence',
] as const

const USAGE = `usage: npm run bench -- ingest [--messages N] [--clients C] [--inflight W] [--seconds S]
         [--repeats R] [--warmup N] [--latency-messages N] [--latency-seconds S]
         [--payload-bytes B] [--brokers outpost,outpost-pi,aedes-memory,mosquitto] [--client raw|mqttjs]
         [--durability fsync|batch|none] [--broker-persistence level|memory] [--dir PARENT] [--cpu-prof DIR] [--gateway-node-args ARGS]
  --messages          messages per throughput run (default 200000)
  --clients           MQTT clients (default 10)
  --inflight          QoS 1 publishes in flight per client in the throughput runs (default 100)
  --seconds           time limit of a throughput run (default 30)
  --repeats           runs per figure, the best is kept (default 3)
  --warmup            messages of the warm-up run per broker (default 20000)
  --latency-messages  messages per latency run, 1 in flight per client (default 20000)
  --latency-seconds   time limit of a latency run (default 10)
  --payload-bytes     payload size (default 100)
  --client            load client: raw (hand-encoded MQTT, light enough to saturate a broker; default)
                      or mqttjs (mqtt.js 5, about as costly per message as the brokers)
  --durability        outpost's outbox durability (default fsync, the mode the targets are set for)
  --broker-persistence  outpost's local session store (default level, as configured by default)
  --dir               parent of the temporary dir (default os.tmpdir())
  --cpu-prof          write a V8 CPU profile of the gateway child into DIR (on stop)
  --gateway-node-args more arguments for node running the gateway (space-separated, e.g. --import X)`

interface Options {
  messages: number
  clients: number
  inflight: number
  seconds: number
  repeats: number
  warmup: number
  latencyMessages: number
  latencySeconds: number
  payloadBytes: number
  brokers: BrokerName[]
  client: LoadClient
  durability: Durability
  /** The gateway's broker.persistence (its local session store). */
  brokerPersistence: 'level' | 'memory'
  parent: string
  /** Arguments for node running the gateway child (--cpu-prof and --gateway-node-args). */
  gatewayNodeArgs: string[]
}

interface BrokerUnderTest {
  name: BrokerName
  url: string
  pid: number
  /** Publishes this broker acknowledged, over every run (warm-up included). */
  acked: number
  stop(): Promise<unknown>
  /** The gateway, for outpost: its status API. */
  gateway?: GatewayChild
}

interface RunResult {
  broker: BrokerName
  scenario: Scenario
  inflight: number
  acked: number
  unacked: number
  failed: number
  seconds: number
  perSec: number
  p50Ms: number
  p99Ms: number
  /** Broker process CPU (all threads) per acknowledged message. */
  brokerCpuUsPerMsg: number
  /** Broker process CPU over wall time (100% = one core). */
  brokerCpuPct: number
  /** The broker's main thread (the JavaScript thread of a Node broker) over wall time. */
  brokerMainPct: number
  /** This process's CPU over wall time: near 100% means the load, not the broker, was the limit. */
  loadCpuPct: number
  /** outpost: acknowledged messages per fsync'd outbox write over the run (undefined for the others). */
  msgsPerFsync: number | undefined
}

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const opts = parseOptions(args)
  await benchSession('outpost-bench-ingest-', opts.parent, async ({ root, signal, started, fsType }) => {
    const brokers: BrokerUnderTest[] = []
    try {
      const payloads = telemetryPayloads(256, opts.payloadBytes)
      for (const name of opts.brokers) brokers.push(await startBroker(name, root, opts))
      const measure = (b: BrokerUnderTest, scenario: Scenario, messages: number, seconds: number) =>
        measureRun(b, { scenario, messages, seconds }, opts, payloads, signal)

      // Warm-up (not reported): JIT on both sides, aedes's and LevelDB's first allocations.
      for (const b of brokers) {
        await measure(b, 'throughput', opts.warmup, opts.seconds)
        await measure(b, 'latency', Math.min(2000, opts.latencyMessages), opts.latencySeconds)
      }

      const runs: RunResult[] = []
      const total = opts.repeats * brokers.length * 2
      for (const scenario of ['throughput', 'latency'] as const) {
        for (let repeat = 0; repeat < opts.repeats; repeat++) {
          const order = repeat % 2 === 0 ? brokers : [...brokers].reverse()
          for (const b of order) {
            if (signal.aborted) throw new Error('interrupted')
            const r =
              scenario === 'throughput'
                ? await measure(b, scenario, opts.messages, opts.seconds)
                : await measure(b, scenario, opts.latencyMessages, opts.latencySeconds)
            runs.push(r)
            console.error(
              `[${runs.length}/${total}] ${scenario} ${b.name}: ${fmtInt(r.perSec)} msgs/s, ` +
                `p50 ${fmt(r.p50Ms, 3)} ms (${fmtInt(r.acked)} in ${fmt(r.seconds, 2)} s)`,
            )
          }
        }
      }
      const peakRss = new Map(brokers.map((b) => [b.name, readProcMemory(b.pid)?.hwmBytes]))
      const outpost = brokers.find((b) => b.name === 'outpost')
      const check = outpost ? await checkOutbox(outpost) : undefined
      report(opts, runs, peakRss, check, fsType, (nowMs() - started) / 1000)
    } finally {
      for (const b of brokers.reverse()) await b.stop().catch((err: unknown) => console.error(err))
    }
  })
}

function parseOptions(args: string[]): Options {
  const flags = parseFlags(args, FLAGS)
  const opts: Options = {
    messages: numberFlag(flags, 'messages', 200_000),
    clients: numberFlag(flags, 'clients', 10),
    inflight: numberFlag(flags, 'inflight', 100),
    seconds: numberFlag(flags, 'seconds', 30, true),
    repeats: numberFlag(flags, 'repeats', 3),
    warmup: numberFlag(flags, 'warmup', 20_000),
    latencyMessages: numberFlag(flags, 'latency-messages', 20_000),
    latencySeconds: numberFlag(flags, 'latency-seconds', 10, true),
    payloadBytes: numberFlag(flags, 'payload-bytes', 100),
    brokers: listFlag(flags, 'brokers', BROKERS, BROKERS) as BrokerName[],
    client: choiceFlag(flags, 'client', 'raw', LOAD_CLIENTS),
    durability: choiceFlag(flags, 'durability', 'fsync', DURABILITIES),
    brokerPersistence: choiceFlag(flags, 'broker-persistence', 'level', ['level', 'memory'] as const),
    parent: flags.get('dir') ?? tmpdir(),
    gatewayNodeArgs: gatewayNodeArgs(flags),
  }
  // Latencies are kept in memory, 8 bytes a message.
  if (Math.max(opts.messages, opts.latencyMessages, opts.warmup) > MAX_MESSAGES)
    throw new Error(`--messages, --warmup, --latency-messages: at most ${MAX_MESSAGES}`)
  if (opts.clients > 1000) throw new Error('--clients: at most 1000')
  if (opts.inflight > 65_535) throw new Error('--inflight: at most 65535 (MQTT packet identifiers)')
  return opts
}

// ---------------------------------------------------------------- brokers

async function startBroker(name: BrokerName, root: string, opts: Options): Promise<BrokerUnderTest> {
  const dir = join(root, name)
  await mkdir(dir, { recursive: true })
  switch (name) {
    case 'outpost':
    case 'outpost-pi': {
      const profile = profiles([name === 'outpost' ? 'default' : 'pi'], opts.gatewayNodeArgs)[0]
      const gw = await GatewayChild.start({
        dir,
        dataDir: join(dir, 'data'),
        durability: opts.durability,
        nodeArgs: profile?.nodeArgs,
        outbox: profile?.outbox,
        // Each load client publishes far beyond a device's default limits: limits on, set not to bite,
        // so their per-message cost is measured with the rest.
        broker: {
          limits: { messagesPerSec: 1e9, bytesPerSec: 2 ** 40 },
          persistence: opts.brokerPersistence,
        },
      })
      return { name, url: gw.url, pid: gw.pid, acked: 0, stop: () => gw.stop(), gateway: gw }
    }
    case 'aedes-memory': {
      const script = fileURLToPath(new URL('./aedes-memory-broker.js', import.meta.url))
      const child = NodeChild.start(name, script)
      try {
        const line = await child.waitForLine((l) => l.msg === 'listening', 10_000)
        const url = `mqtt://127.0.0.1:${line.port as number}`
        return { name, url, pid: child.pid, acked: 0, stop: () => child.stop() }
      } catch (err) {
        await child.stop(2000)
        throw err
      }
    }
    case 'mosquitto': {
      const m = await Mosquitto.start({ dir })
      return { name, url: m.url, pid: m.pid as number, acked: 0, stop: () => m.stop() }
    }
  }
}

// ---------------------------------------------------------------- measurement

interface RunSpec {
  scenario: Scenario
  /** Limits of this run: whichever comes first. */
  messages: number
  seconds: number
}

/** One load run against `b`, with the broker's CPU read from /proc around it. */
async function measureRun(
  b: BrokerUnderTest,
  { scenario, messages, seconds }: RunSpec,
  opts: Options,
  payloads: readonly Buffer[],
  signal: AbortSignal,
): Promise<RunResult> {
  const inflight = scenario === 'throughput' ? opts.inflight : 1
  const synced0 = await syncedWrites(b)
  const cpu0 = readProcCpu(b.pid)
  const r = await runLoad({
    url: b.url,
    client: opts.client,
    clients: opts.clients,
    inflight,
    messages,
    seconds,
    payloads,
    clientIdPrefix: `bench-${b.name}`,
    signal,
  })
  const cpu = cpuBetween(cpu0, readProcCpu(b.pid))
  if (cpu === undefined) throw new Error(`${b.name} (pid ${b.pid}) is gone`)
  const synced = synced0 === undefined ? undefined : ((await syncedWrites(b)) as number) - synced0
  b.acked += r.acked
  if (r.unacked > 0 || r.failed > 0)
    console.error(`warning: ${b.name}: ${r.unacked} publishes unacknowledged, ${r.failed} failed`)
  const wallUs = r.elapsedMs * 1000
  return {
    broker: b.name,
    scenario,
    inflight,
    acked: r.acked,
    unacked: r.unacked,
    failed: r.failed,
    seconds: r.elapsedMs / 1000,
    perSec: r.acked / (r.elapsedMs / 1000),
    p50Ms: percentile(r.latenciesMs, r.acked, 50),
    p99Ms: percentile(r.latenciesMs, r.acked, 99),
    brokerCpuUsPerMsg: cpu.processUs / r.acked,
    brokerCpuPct: (cpu.processUs / wallUs) * 100,
    brokerMainPct: (cpu.mainThreadUs / wallUs) * 100,
    loadCpuPct: (r.loadCpu.processUs / wallUs) * 100,
    msgsPerFsync: synced ? r.acked / synced : undefined,
  }
}

/** The gateway's count of fsync'd outbox writes (outpost only). */
async function syncedWrites(b: BrokerUnderTest): Promise<number | undefined> {
  return b.gateway ? (await b.gateway.status()).outbox.writes.synced : undefined
}

interface OutboxCheck {
  expected: number
  messages: number
  stored: number
  ok: boolean
}

/** Every publish the gateway acknowledged must be a record in its outbox (it has no upstream). */
async function checkOutbox(b: BrokerUnderTest): Promise<OutboxCheck> {
  if (!b.gateway) throw new Error(`${b.name} has no status API`)
  const status = await b.gateway.status()
  const messages = status.outbox.messages
  return {
    expected: b.acked,
    messages,
    stored: status.broker.stored,
    ok: messages === b.acked && status.broker.stored === b.acked,
  }
}

// ---------------------------------------------------------------- report

interface Figure {
  best: RunResult
  runs: RunResult[]
}

function bestOf(runs: RunResult[], scenario: Scenario): Map<BrokerName, Figure> {
  // Throughput: the fastest repeat; latency: the repeat with the lowest p50.
  const better = (a: RunResult, b: RunResult) =>
    scenario === 'throughput' ? a.perSec > b.perSec : a.p50Ms < b.p50Ms
  const figures = new Map<BrokerName, Figure>()
  for (const r of runs) {
    if (r.scenario !== scenario) continue
    const f = figures.get(r.broker)
    if (!f) figures.set(r.broker, { best: r, runs: [r] })
    else {
      f.runs.push(r)
      if (better(r, f.best)) f.best = r
    }
  }
  return figures
}

function report(
  opts: Options,
  runs: RunResult[],
  peakRss: Map<BrokerName, number | undefined>,
  check: OutboxCheck | undefined,
  fsType: string,
  durationSec: number,
): void {
  const throughput = bestOf(runs, 'throughput')
  const latency = bestOf(runs, 'latency')
  const aedes = throughput.get('aedes-memory')?.best
  const mb = (n: number | undefined) => (n === undefined ? undefined : n / 2 ** 20)

  console.log(
    `MQTT ingest benchmark: ${opts.clients} ${opts.client} clients, QoS 1, ${opts.payloadBytes}-byte payloads, ` +
      `best of ${opts.repeats}; outpost outbox on ${fsType}, durability ${opts.durability}`,
  )
  console.log('')
  console.log(
    `throughput: ${opts.inflight} in flight per client, ≤ ${fmtInt(opts.messages)} messages / ≤ ${opts.seconds} s a run`,
  )
  const tRows = opts.brokers.flatMap((name) => {
    const f = throughput.get(name)
    if (!f) return []
    const r = f.best
    const rates = f.runs.map((x) => x.perSec)
    const spread = (Math.max(...rates) - Math.min(...rates)) / r.perSec
    return [
      [
        name,
        fmtInt(r.perSec),
        f.runs.length > 1 ? `${fmt(spread * 100, 0)}%` : '',
        aedes ? `${fmt((r.perSec / aedes.perSec) * 100, 1)}%` : '',
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        r.msgsPerFsync === undefined ? '-' : fmt(r.msgsPerFsync, 0),
        fmt(r.brokerCpuUsPerMsg, 1),
        fmt(r.brokerCpuPct, 0),
        fmt(r.brokerMainPct, 0),
        fmt(r.loadCpuPct, 0),
        fmt(mb(peakRss.get(name)), 1),
        fmtInt(r.acked),
        fmt(r.seconds, 2),
      ],
    ]
  })
  console.log(
    formatTable(
      [
        { title: 'broker', align: 'left' },
        { title: 'msgs/s' },
        { title: 'spread' },
        { title: 'vs aedes' },
        { title: 'p50 ms' },
        { title: 'p99 ms' },
        { title: 'msgs/fsync' },
        { title: 'broker µs/msg' },
        { title: 'broker cpu%' },
        { title: 'main%' },
        { title: 'load cpu%' },
        { title: 'peak RSS MiB' },
        { title: 'msgs' },
        { title: 'secs' },
      ],
      tRows,
    ),
  )
  console.log('')
  console.log(
    `latency: 1 in flight per client, ≤ ${fmtInt(opts.latencyMessages)} messages / ≤ ${opts.latencySeconds} s a run`,
  )
  const lRows = opts.brokers.flatMap((name) => {
    const f = latency.get(name)
    if (!f) return []
    const r = f.best
    return [
      [
        name,
        fmtInt(r.perSec),
        fmt(r.p50Ms, 3),
        fmt(r.p99Ms, 3),
        f.runs.map((x) => fmt(x.p50Ms, 3)).join(' '),
        r.msgsPerFsync === undefined ? '-' : fmt(r.msgsPerFsync, 1),
        fmt(r.brokerCpuUsPerMsg, 1),
        fmtInt(r.acked),
        fmt(r.seconds, 2),
      ],
    ]
  })
  console.log(
    formatTable(
      [
        { title: 'broker', align: 'left' },
        { title: 'msgs/s' },
        { title: 'p50 ms' },
        { title: 'p99 ms' },
        { title: 'p50 of each run', align: 'left' },
        { title: 'msgs/fsync' },
        { title: 'broker µs/msg' },
        { title: 'msgs' },
        { title: 'secs' },
      ],
      lRows,
    ),
  )
  console.log('')
  for (const note of [
    'msgs/s: acknowledged QoS 1 publishes / time from the first publish to the last PUBACK; best repeat.',
    `p50/p99: publish() call to PUBACK callback, per message, in the load process (${opts.client} client).`,
    'broker µs/msg, cpu%: /proc/PID/stat utime+stime of the broker process (all threads) over the run;',
    '  main%: its main thread alone (/proc/PID/task/PID/schedstat): near 100% means a saturated JS thread;',
    '  load cpu%: this process (the load generator); near 100% means the load was the limit, not the broker.',
    'peak RSS: VmHWM of the broker process over its whole life (warm-up and every run).',
    "msgs/fsync: outpost's acknowledged messages per fsync'd outbox write (its /api/status).",
  ])
    console.log(note)

  const piT = throughput.get('outpost-pi')?.best
  const piL = latency.get('outpost-pi')?.best
  const piRss = peakRss.get('outpost-pi')
  const outpostT = throughput.get('outpost')?.best
  const ratio = outpostT && aedes ? outpostT.perSec / aedes.perSec : undefined
  const ratioPass = ratio === undefined ? undefined : ratio >= TARGETS.throughputRatio
  const p50 = latency.get('outpost')?.best.p50Ms
  const p50Pass = p50 === undefined ? undefined : p50 <= TARGETS.latencyP50Ms
  const verdict = (pass: boolean | undefined) => (pass ? 'PASS' : 'FAIL')
  if (opts.durability !== 'fsync')
    console.log(`note: outpost ran with durability ${opts.durability}; the targets are set for fsync`)
  console.log(
    ratio === undefined
      ? 'TARGET outpost msgs/s ≥ 90% of aedes-memory: not measured (needs --brokers outpost,aedes-memory)'
      : `TARGET outpost msgs/s ≥ ${TARGETS.throughputRatio * 100}% of aedes-memory: ` +
          `${fmt(ratio * 100, 1)}% → ${verdict(ratioPass)}`,
  )
  console.log(
    p50 === undefined
      ? 'TARGET outpost PUBACK p50 ≤ 0.5 ms with 1 in flight: not measured'
      : `TARGET outpost PUBACK p50 ≤ ${TARGETS.latencyP50Ms} ms with 1 in flight: ` +
          `${fmt(p50, 3)} ms → ${verdict(p50Pass)}`,
  )
  if (piT && outpostT) {
    console.log(
      `PI PROFILE msgs/s ${fmt((piT.perSec / outpostT.perSec) * 100, 1)}% of outpost's (` +
        `${fmt(aedes ? (piT.perSec / aedes.perSec) * 100 : Number.NaN, 1)}% of aedes-memory), PUBACK p50 ` +
        `${fmt(piL?.p50Ms, 3)} ms, peak RSS ${fmt(piRss === undefined ? undefined : piRss / 2 ** 20, 1)} MiB ` +
        `(target ≤ 128: ${piRss !== undefined && piRss <= 128 * 2 ** 20 ? 'PASS' : 'FAIL'})`,
    )
  }
  if (check) {
    console.log(
      `CHECK outpost outbox holds ${fmtInt(check.messages)} records, broker stored ${fmtInt(check.stored)}, ` +
        `${fmtInt(check.expected)} publishes acknowledged → ${check.ok ? 'OK' : 'MISMATCH'}`,
    )
  }
  console.log(`total ${fmt(durationSec, 1)} s`)

  const json = (r: RunResult) => ({
    broker: r.broker,
    scenario: r.scenario,
    inflightPerClient: r.inflight,
    msgsPerSec: round(r.perSec, 1),
    p50Ms: round(r.p50Ms, 4),
    p99Ms: round(r.p99Ms, 4),
    brokerCpuUsPerMsg: round(r.brokerCpuUsPerMsg, 2),
    brokerCpuPct: round(r.brokerCpuPct, 1),
    brokerMainThreadPct: round(r.brokerMainPct, 1),
    loadCpuPct: round(r.loadCpuPct, 1),
    msgsPerFsync: r.msgsPerFsync === undefined ? null : round(r.msgsPerFsync, 2),
    acked: r.acked,
    unacked: r.unacked,
    failed: r.failed,
    seconds: round(r.seconds, 3),
  })
  printJsonLine({
    bench: 'ingest',
    ...machine(fsType),
    options: {
      messages: opts.messages,
      clients: opts.clients,
      inflight: opts.inflight,
      seconds: opts.seconds,
      repeats: opts.repeats,
      warmup: opts.warmup,
      latencyMessages: opts.latencyMessages,
      latencySeconds: opts.latencySeconds,
      payloadBytes: opts.payloadBytes,
      loadClient: opts.client,
      outpostDurability: opts.durability,
    },
    durationSec: round(durationSec, 1),
    results: opts.brokers.map((name) => ({
      broker: name,
      peakRssBytes: peakRss.get(name) ?? null,
      throughput: throughput.get(name) ? json((throughput.get(name) as Figure).best) : null,
      latency: latency.get(name) ? json((latency.get(name) as Figure).best) : null,
      throughputRuns: throughput.get(name)?.runs.map((x) => round(x.perSec, 1)) ?? [],
      latencyRunsP50Ms: latency.get(name)?.runs.map((x) => round(x.p50Ms, 4)) ?? [],
    })),
    outboxCheck: check ?? null,
    targets: {
      throughputVsAedes: {
        threshold: TARGETS.throughputRatio,
        ratio: round(ratio, 4),
        pass: ratioPass ?? null,
      },
      latencyP50Ms: { threshold: TARGETS.latencyP50Ms, p50Ms: round(p50, 4), pass: p50Pass ?? null },
    },
  })
}
