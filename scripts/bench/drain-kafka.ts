// Backlog drain to Kafka against the limit: `npm run bench -- drain-kafka [flags]` (issue #8).
//
// An outbox is filled once with N queued ~100-byte readings of 10 devices, stored as the gateway stores
// them for a route to the Kafka upstream "lake" (topic T, key "{1}" = device id: kafka-bench-record.ts).
// For each codec this Node.js can send with (none, gzip, snappy, lz4; zstd where node:zlib has it), a
// copy of it is drained by the real gateway (`node dist/gateway/cli.js start`, durability fsync) into a
// topic of `--partitions` partitions.
//
// The limit, in the same run and for the same codec: a bare @platformatic/kafka producer sending the
// same N records from memory from a child process (kafka-publisher.ts), with the producer the gateway
// makes for the same upstream config and the same batch size (maxInflight), one batch at a time. It
// runs before and after the gateway's drain (drift on a shared machine hits both sides alike) and the
// drain is compared with their mean.
//
// Both are timed alike, at the broker: the topic's end offsets polled every POLL_MS (ListOffsets, from
// this process: nothing asks the sender anything meanwhile), from the first poll that finds records
// there (connections, metadata and producer id are behind) to the first that finds all N; the records
// between those two polls over the time between them.
//
// Bytes on the wire per record, measured at the broker: the growth of the topic's log over a run
// (DescribeLogDirs) divided by the records it gained (end offsets) — the record batches exactly as the
// producer sent them (compression.type=producer), without the produce requests' framing. For the limit
// the bytes its sockets wrote (framing included) are reported next to it, as a cross-check.
//
// The broker: --brokers, else KAFKA_BROKERS, else a private one started by scripts/kafka/start.sh for
// the run (and stopped after it). The topic is deleted at the end.
//
// Target: the gateway's drain ≥ 80% of the limit, for every codec.
import { cp, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { supportedCompressions } from '../../gateway/forward/kafka-producer.js'
import { Outbox } from '../../store/outbox.js'
import { KafkaBroker } from '../ci/kafka-broker.js'
import { GatewayChild, gatewayNodeArgs } from './gateway-child.js'
import { BENCH_UPSTREAM, kafkaBenchConfig, kafkaBenchRecord } from './kafka-bench-record.js'
import { KafkaBenchTopic, type TopicSize } from './kafka-bench-topic.js'
import type { KafkaPublisherArgs } from './kafka-publisher.js'
import { NodeChild } from './node-child.js'
import {
  benchSession,
  cpuBetween,
  fmt,
  fmtInt,
  formatTable,
  listFlag,
  machine,
  nowMs,
  numberFlag,
  parseFlags,
  printedUsage,
  printJsonLine,
  readProcCpu,
  round,
} from './report.js'
import { telemetryPayloads } from './workload.js'

const TARGET = 0.8
const DEVICES = 10
const FILL_BATCH = 4096
const FILL_CONCURRENCY = 4
const POLL_MS = 50
const GATEWAY_ID = 'bench'
const FLAGS = [
  'messages',
  'codecs',
  'inflight',
  'batch-bytes',
  'linger-ms',
  'payload-bytes',
  'partitions',
  'limit-runs',
  'timeout-seconds',
  'brokers',
  'dir',
  'cpu-prof',
  'gateway-node-args',
] as const

const USAGE = `usage: npm run bench -- drain-kafka [--messages N] [--codecs none,gzip,snappy,lz4] [--inflight W]
         [--batch-bytes B] [--linger-ms MS] [--payload-bytes B] [--partitions P] [--limit-runs 1|2]
         [--timeout-seconds S] [--brokers HOST:PORT,…] [--dir PARENT] [--cpu-prof DIR] [--gateway-node-args ARGS]
  --messages           backlog to drain (default 1000000)
  --codecs             compression codecs to run (default: every one this Node.js has: ${supportedCompressions().join(',')})
  --inflight           records per produce batch: the gateway's maxInflight and the limit's batch (default 1000)
  --batch-bytes        the gateway's batchBytes (default 1048576)
  --linger-ms          the gateway's lingerMs (default 5)
  --payload-bytes      payload size (default 100)
  --partitions         partitions of the topic (default 3)
  --limit-runs         limit runs per codec: 2 = before and after the gateway's drain (default), 1 = after only
  --timeout-seconds    time limit of each drain (default 300)
  --brokers            Kafka to use (default KAFKA_BROKERS; neither: a private broker for the run)
  --dir                parent of the temporary dir (default os.tmpdir())
  --cpu-prof           write a V8 CPU profile of each gateway child into DIR (on stop)
  --gateway-node-args  more arguments for node running the gateway (space-separated)`

interface Options {
  messages: number
  codecs: string[]
  inflight: number
  batchBytes: number
  lingerMs: number
  payloadBytes: number
  partitions: number
  limitRuns: number
  timeoutSec: number
  brokers: string[] | undefined
  parent: string
  gatewayNodeArgs: string[]
}

type Sender = 'gateway' | 'limit'

interface Run {
  codec: string
  sender: Sender
  /** Records timed: those that arrived after the first poll that found some. */
  timed: number
  seconds: number
  perSec: number
  /** Broker side: records and log bytes the topic gained over the run. */
  records: number
  logBytes: number
  bytesPerRecord: number
  /** Limit only: bytes its sockets wrote per record (produce requests, framing included). */
  socketBytesPerRecord: number | undefined
  senderCpuUsPerMsg: number | undefined
  /** Gateway only: CPU of its main (JavaScript) thread per record. */
  mainCpuUsPerMsg?: number | undefined
  /** Gateway only: cursor and dead letters after the drain. */
  position?: number
  deadLetters?: number
}

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const opts = parseOptions(args)
  await benchSession('outpost-bench-drain-kafka-', opts.parent, async ({ root, signal, started, fsType }) => {
    let broker: KafkaBroker | undefined
    let topic: KafkaBenchTopic | undefined
    try {
      let brokers = opts.brokers
      if (brokers === undefined) {
        const t = nowMs()
        broker = await KafkaBroker.start(join(root, 'kafka'))
        brokers = broker.brokers
        console.error(
          `started a private Kafka broker on ${brokers.join(',')} in ${fmt((nowMs() - t) / 1000, 1)} s`,
        )
      }
      topic = await KafkaBenchTopic.create(brokers, opts.partitions)
      const ts = Date.now()
      const t = nowMs()
      const template = join(root, 'template', 'data')
      await fillOutbox(template, opts, topic.name, ts)
      const fillSec = (nowMs() - t) / 1000
      console.error(`filled the outbox: ${fmtInt(opts.messages)} records in ${fmt(fillSec, 1)} s`)

      const ctx: Context = { opts, brokers, topic, ts, signal }
      const runs: Run[] = []
      const run = async (label: string, phase: () => Promise<Run>) => {
        if (signal.aborted) throw new Error('interrupted')
        const r = await phase()
        runs.push(r)
        console.error(
          `${label}: ${fmtInt(r.timed)} in ${fmt(r.seconds, 2)} s, ${fmtInt(r.perSec)} msgs/s, ${fmt(r.bytesPerRecord, 1)} B/record`,
        )
      }
      for (const codec of opts.codecs) {
        if (opts.limitRuns > 1) await run(`${codec} limit (before)`, () => drainLimit(ctx, codec))
        const dir = join(root, `gw-${codec}`)
        await cp(template, join(dir, 'data'), { recursive: true })
        await run(`${codec} gateway`, () => drainGateway(ctx, codec, dir))
        await run(`${codec} limit (after)`, () => drainLimit(ctx, codec))
      }
      report(
        opts,
        runs,
        fsType,
        fillSec,
        broker === undefined ? 'given' : 'private',
        (nowMs() - started) / 1000,
      )
    } finally {
      await topic?.delete().catch((err: unknown) => console.error(`deleting the topic: ${err}`))
      await broker?.close().catch((err: unknown) => console.error(err))
    }
  })
}

function parseOptions(args: string[]): Options {
  const flags = parseFlags(args, FLAGS)
  const available = supportedCompressions()
  const brokers = flags.get('brokers') ?? process.env.KAFKA_BROKERS
  const opts: Options = {
    messages: numberFlag(flags, 'messages', 1_000_000),
    codecs: listFlag(flags, 'codecs', available, available),
    inflight: numberFlag(flags, 'inflight', 1000),
    batchBytes: numberFlag(flags, 'batch-bytes', 2 ** 20),
    lingerMs: numberFlag(flags, 'linger-ms', 5),
    payloadBytes: numberFlag(flags, 'payload-bytes', 100),
    partitions: numberFlag(flags, 'partitions', 3),
    limitRuns: numberFlag(flags, 'limit-runs', 2),
    timeoutSec: numberFlag(flags, 'timeout-seconds', 300, true),
    brokers:
      brokers === undefined || brokers.trim() === '' ? undefined : brokers.split(',').map((b) => b.trim()),
    parent: flags.get('dir') ?? tmpdir(),
    gatewayNodeArgs: gatewayNodeArgs(flags),
  }
  if (opts.inflight > 100_000) throw new Error('--inflight: at most 100000 (the schema caps maxInflight)')
  if (opts.limitRuns > 2) throw new Error('--limit-runs: 1 or 2')
  return opts
}

/** The backlog: what the broker would have stored for `messages` device readings routed to Kafka. */
async function fillOutbox(dataDir: string, opts: Options, kafkaTopic: string, ts: number): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  // Durability none while filling; close() syncs what was written.
  const outbox = await Outbox.open({ dir: dataDir, durability: 'none' })
  try {
    const payloads = telemetryPayloads(256, opts.payloadBytes)
    let next = 1
    const appender = async () => {
      while (next <= opts.messages) {
        const first = next
        const n = Math.min(FILL_BATCH, opts.messages - first + 1)
        next += n
        await outbox.append(
          Array.from({ length: n }, (_, i) => kafkaBenchRecord(first + i, kafkaTopic, DEVICES, payloads, ts)),
        )
      }
    }
    await Promise.all(Array.from({ length: FILL_CONCURRENCY }, appender))
    if (outbox.lastSeq !== opts.messages)
      throw new Error(`filled ${outbox.lastSeq} records, wanted ${opts.messages}`)
  } finally {
    await outbox.close()
  }
}

interface Context {
  opts: Options
  brokers: string[]
  topic: KafkaBenchTopic
  ts: number
  signal: AbortSignal
}

interface Timed {
  timed: number
  seconds: number
}

/**
 * Polls the topic until it holds `before + n` records; times the arrivals from the first poll that
 * found some (`onFirst` is called then: the sender's CPU is read over the same span).
 */
async function timeAtBroker(
  ctx: Context,
  before: number,
  what: string,
  alive: () => boolean,
  onFirst: () => void = () => {},
): Promise<Timed> {
  const n = ctx.opts.messages
  const deadline = nowMs() + ctx.opts.timeoutSec * 1000
  let first: { t: number; records: number } | undefined
  for (;;) {
    if (ctx.signal.aborted) throw new Error('interrupted')
    const records = (await ctx.topic.records()) - before
    const t = nowMs()
    if (first === undefined && records > 0) {
      first = { t, records }
      onFirst()
    }
    if (records >= n && first !== undefined)
      return { timed: records - first.records, seconds: (t - first.t) / 1000 }
    if (!alive()) throw new Error(`${what}: exited with ${records} of ${n} records in the topic`)
    if (t > deadline) throw new Error(`${what}: ${records} of ${n} records after ${ctx.opts.timeoutSec} s`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/** The gateway on a copy of the backlog, forwarding to the topic with `codec`. */
async function drainGateway(ctx: Context, codec: string, dir: string): Promise<Run> {
  const { opts } = ctx
  const before = await ctx.topic.size()
  const gw = await GatewayChild.start({
    dir,
    dataDir: join(dir, 'data'),
    gatewayId: GATEWAY_ID,
    durability: 'fsync',
    ...kafkaBenchConfig(ctx.brokers, ctx.topic.name, {
      compression: codec,
      batch: opts.inflight,
      batchBytes: opts.batchBytes,
      lingerMs: opts.lingerMs,
    }),
    nodeArgs: opts.gatewayNodeArgs,
  })
  try {
    let cpu0: ReturnType<typeof readProcCpu>
    const timing = await timeAtBroker(
      ctx,
      before.records,
      `gateway drain (${codec})`,
      () => gw.running,
      () => {
        cpu0 = readProcCpu(gw.pid)
      },
    )
    const cpu = cpuBetween(cpu0, readProcCpu(gw.pid))
    const after = await ctx.topic.size()
    const status = await gw.status()
    const up = status.upstreams.find((u) => u.name === BENCH_UPSTREAM)
    return {
      codec,
      sender: 'gateway',
      timed: timing.timed,
      seconds: timing.seconds,
      perSec: timing.timed / timing.seconds,
      ...grown(before, after),
      socketBytesPerRecord: undefined,
      senderCpuUsPerMsg: cpu === undefined ? undefined : cpu.processUs / timing.timed,
      mainCpuUsPerMsg: cpu === undefined ? undefined : cpu.mainThreadUs / timing.timed,
      position: up?.position ?? 0,
      deadLetters: Object.values(up?.deadLetters ?? {}).reduce((a, b) => a + (b ?? 0), 0),
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${gw.describe()}`)
  } finally {
    await gw.stop()
  }
}

/** The bare producer sending the same records from memory (kafka-publisher.ts) with `codec`. */
async function drainLimit(ctx: Context, codec: string): Promise<Run> {
  const { opts } = ctx
  const before = await ctx.topic.size()
  const args: KafkaPublisherArgs = {
    brokers: ctx.brokers,
    topic: ctx.topic.name,
    messages: opts.messages,
    batch: opts.inflight,
    batchBytes: opts.batchBytes,
    lingerMs: opts.lingerMs,
    compression: codec,
    payloadBytes: opts.payloadBytes,
    devices: DEVICES,
    gatewayId: GATEWAY_ID,
    ts: ctx.ts,
  }
  const script = fileURLToPath(new URL('./kafka-publisher.js', import.meta.url))
  const child = NodeChild.start('limit publisher', script, [JSON.stringify(args)])
  try {
    const timing = await timeAtBroker(ctx, before.records, `limit (${codec})`, () => child.running)
    const done = await child.waitForLine((l) => l.msg === 'done', 30_000)
    const after = await ctx.topic.size()
    // Its own figures span its first acknowledged batch to its last (done.timed records).
    const own = done.timed as number
    return {
      codec,
      sender: 'limit',
      timed: timing.timed,
      seconds: timing.seconds,
      perSec: timing.timed / timing.seconds,
      ...grown(before, after),
      socketBytesPerRecord: (done.socketBytes as number) / own,
      senderCpuUsPerMsg: (done.cpuUs as number) / own,
    }
  } finally {
    await child.stop(5000)
  }
}

function grown(before: TopicSize, after: TopicSize): Pick<Run, 'records' | 'logBytes' | 'bytesPerRecord'> {
  const records = after.records - before.records
  const logBytes = after.bytes - before.bytes
  return { records, logBytes, bytesPerRecord: logBytes / records }
}

// ---------------------------------------------------------------- report

function report(
  opts: Options,
  runs: Run[],
  fsType: string,
  fillSec: number,
  broker: string,
  durationSec: number,
): void {
  const byCodec = opts.codecs.map((codec) => {
    const gateway = runs.find((r) => r.codec === codec && r.sender === 'gateway') as Run
    const limits = runs.filter((r) => r.codec === codec && r.sender === 'limit')
    const limitRate = limits.reduce((a, r) => a + r.perSec, 0) / limits.length
    return { codec, gateway, limits, limitRate, ratio: gateway.perSec / limitRate }
  })
  const rows: string[][] = []
  for (const c of byCodec) {
    for (const r of [...c.limits.slice(0, 1), c.gateway, ...c.limits.slice(1)]) {
      rows.push([
        c.codec,
        r.sender === 'limit'
          ? c.limits.length > 1
            ? `limit (${r === c.limits[0] ? 'before' : 'after'})`
            : 'limit'
          : 'gateway',
        fmtInt(r.perSec),
        r.sender === 'gateway' ? `${fmt(c.ratio * 100, 1)}%` : '',
        fmt(r.seconds, 2),
        fmtInt(r.records),
        fmt(r.bytesPerRecord, 1),
        fmt(r.socketBytesPerRecord, 1),
        fmt(r.senderCpuUsPerMsg, 2),
        fmt(r.mainCpuUsPerMsg, 2),
      ])
    }
  }
  console.log('')
  console.log(
    `drain-kafka: ${fmtInt(opts.messages)} records of ${opts.payloadBytes} B payload, ${DEVICES} devices (keys), ` +
      `${opts.partitions} partitions, batches of ${opts.inflight}, acks=all idempotent, ${broker} broker`,
  )
  console.log(
    formatTable(
      [
        { title: 'codec', align: 'left' },
        { title: 'sender', align: 'left' },
        { title: 'msgs/s' },
        { title: 'vs limit' },
        { title: 'secs' },
        { title: 'records in topic' },
        { title: 'wire B/rec (broker log)' },
        { title: 'socket B/rec' },
        { title: 'sender CPU µs/msg' },
        { title: 'main µs/msg' },
      ],
      rows,
    ),
  )
  console.log('')
  for (const note of [
    `msgs/s: records arrived / time, both at the broker (end offsets polled every ${POLL_MS} ms) from the first poll`,
    '  that found records (connections, producer id behind) to the one that found all. vs limit: against the',
    '  mean of the limit runs.',
    "records in topic: what the topic's end offsets gained over the run (the whole backlog: no record lost,",
    '  none twice). wire B/rec: what its log gained (DescribeLogDirs) per record — the record batches as sent.',
    "socket B/rec: bytes the limit's sockets wrote per record, produce-request framing included.",
    'sender CPU: the gateway process (all threads) or the limit publisher process, per timed record;',
    "  main: the gateway's JavaScript thread alone.",
  ])
    console.log(note)
  for (const c of byCodec) {
    const g = c.gateway
    const ok = g.position === opts.messages && g.records === opts.messages && g.deadLetters === 0
    console.log(
      `CHECK ${c.codec}: gateway cursor ${fmtInt(g.position)}, topic gained ${fmtInt(g.records)}, ` +
        `dead letters ${g.deadLetters} → ${ok ? 'OK' : 'MISMATCH'}`,
    )
  }
  const pass = byCodec.every((c) => c.ratio >= TARGET)
  console.log(
    `TARGET drain ≥ ${TARGET * 100}% of the limit: ${byCodec.map((c) => `${c.codec} ${fmt(c.ratio * 100, 1)}%`).join(', ')} → ${pass ? 'PASS' : 'FAIL'}`,
  )
  console.log(`total ${fmt(durationSec, 1)} s`)

  const json = (r: Run) => ({
    msgsPerSec: round(r.perSec, 1),
    seconds: round(r.seconds, 3),
    timed: r.timed,
    records: r.records,
    logBytes: r.logBytes,
    bytesPerRecord: round(r.bytesPerRecord, 2),
    socketBytesPerRecord: round(r.socketBytesPerRecord, 2),
    senderCpuUsPerMsg: round(r.senderCpuUsPerMsg, 2),
    mainThreadCpuUsPerMsg: round(r.mainCpuUsPerMsg, 2),
  })
  printJsonLine({
    bench: 'drain-kafka',
    ...machine(fsType),
    options: {
      messages: opts.messages,
      codecs: opts.codecs,
      inflight: opts.inflight,
      batchBytes: opts.batchBytes,
      lingerMs: opts.lingerMs,
      payloadBytes: opts.payloadBytes,
      partitions: opts.partitions,
      limitRuns: opts.limitRuns,
      broker,
    },
    fillSec: round(fillSec, 2),
    durationSec: round(durationSec, 1),
    codecs: byCodec.map((c) => ({
      codec: c.codec,
      gateway: { ...json(c.gateway), position: c.gateway.position, deadLetters: c.gateway.deadLetters },
      limits: c.limits.map(json),
      limitMsgsPerSec: round(c.limitRate, 1),
      ratio: round(c.ratio, 4),
    })),
    target: { threshold: TARGET, pass },
  })
}
