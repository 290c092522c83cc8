// Outbox append throughput against the LevelDB limit: `npm run bench -- outbox [flags]`.
//
// For each durability mode it measures
// - "raw": pre-encoded records (encodeRecord, same size as the outbox writes) put straight into a fresh
//   ClassicLevel with chained batches of 512 records per write, sync as the mode would (true for fsync),
//   one write in flight at a time — the most the outbox could get out of LevelDB on this disk;
// - the outbox with 1, 16 and 512 concurrent appenders, each looping `await outbox.append([record])`.
// Raw and the outbox runs of a mode go back to back, in reversed order on the second repeat, and the
// best repeat is kept: on a shared machine that is the fairest comparison one process can make.
// Every run is bounded by a record count and a time limit, whichever comes first.
//
// The target (DESIGN.md, group commit): fsync mode at 512 appenders reaches ≥ 70% of raw fsync.
import { mkdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { type Durability, Outbox } from '../../store/outbox.js'
import { encodeRecord, type OutboxRecord } from '../../store/record-codec.js'

/** The raw baseline's key: one LevelDB entry per record ('r' + u64 sequence number). */
function recordKey(seq: number): Buffer {
  const key = Buffer.allocUnsafe(9)
  key[0] = 0x72
  key.writeUInt32BE(Math.floor(seq / 2 ** 32), 1)
  key.writeUInt32BE(seq >>> 0, 5)
  return key
}

import {
  benchSession,
  type CpuSpent,
  cpuMeter,
  type DiskBytes,
  diskBytesBetween,
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
  readProcIo,
  round,
} from './report.js'
import { mulberry32, telemetryPayload } from './workload.js'

const MODES: readonly Durability[] = ['fsync', 'batch', 'none']
const RAW_BATCH_RECORDS = 512
const MAX_RECORDS = 20_000_000
const TARGET = { mode: 'fsync' as Durability, appenders: 512, ratio: 0.7 }
const FLAGS = ['seconds', 'records', 'repeats', 'appenders', 'modes', 'payload-bytes', 'dir'] as const

const USAGE = `usage: npm run bench -- outbox [--seconds S] [--records N] [--repeats R]
         [--appenders 1,16,512] [--modes fsync,batch,none] [--payload-bytes B] [--dir PARENT]
  --seconds        time limit of each run (default 2)
  --records        record limit of each run (default 600000)
  --repeats        runs per figure, the best is kept (default 3)
  --payload-bytes  payload size (default 100)
  --dir            parent of the temporary data dir (default os.tmpdir())`

interface Options {
  seconds: number
  records: number
  repeats: number
  appenders: number[]
  modes: Durability[]
  payloadBytes: number
  parent: string
}

type Writer = 'raw' | 'outbox'

interface RunResult {
  mode: Durability
  writer: Writer
  /** Concurrent appenders (raw: 1 writer of RAW_BATCH_RECORDS-record batches). */
  appenders: number
  records: number
  seconds: number
  perSec: number
  /** Outbox: latency of one append; raw: latency of one batch write. */
  p50Ms: number
  p99Ms: number
  /** Process CPU (every thread) per record. */
  cpuUsPerRecord: number
  /** Main-thread CPU per record: the JavaScript side's cost. */
  mainUsPerRecord: number
  payloadBytes: number
  disk: DiskBytes | undefined
}

interface Workload {
  /** A few records per appender, all of identical encoded size (device numbers are zero-padded). */
  byAppender: OutboxRecord[][]
  /** Records encoded once, for the raw runs. */
  rawValues: Buffer[]
  payloadBytes: number
}

export async function main(args: string[]): Promise<void> {
  if (printedUsage(args, USAGE)) return
  const opts = parseOptions(args)
  await benchSession('outpost-bench-outbox-', opts.parent, async ({ root, signal, started, fsType }) => {
    const workload = buildWorkload(Math.max(...opts.appenders), opts.payloadBytes)
    let runNo = 0
    const nextDir = async (label: string) => {
      const dir = join(root, `${++runNo}-${label}`)
      await mkdir(dir)
      return dir
    }

    // Warm-up (not reported): JIT and LevelDB code paths, so the first measured run is not penalised.
    const warm = { ...opts, seconds: Math.min(0.5, opts.seconds), records: Math.min(20_000, opts.records) }
    await runInDir(await nextDir('warmup-raw'), (d) => measureRaw(d, 'none', warm, workload, signal))
    await runInDir(await nextDir('warmup-outbox'), (d) =>
      measureOutbox(d, 'none', 16, warm, workload, signal),
    )

    const runs: RunResult[] = []
    const total = opts.repeats * opts.modes.length * (opts.appenders.length + 1)
    for (let repeat = 0; repeat < opts.repeats; repeat++) {
      for (const mode of opts.modes) {
        // Raw next to the largest group first; reversed on odd repeats so drift hits both sides alike.
        const order: Array<'raw' | number> = ['raw', ...[...opts.appenders].sort((a, b) => b - a)]
        if (repeat % 2 === 1) order.reverse()
        for (const item of order) {
          if (signal.aborted) throw new Error('interrupted')
          const label = item === 'raw' ? `${mode}-raw` : `${mode}-outbox-${item}`
          const result = await runInDir(await nextDir(label), (d) =>
            item === 'raw'
              ? measureRaw(d, mode, opts, workload, signal)
              : measureOutbox(d, mode, item, opts, workload, signal),
          )
          runs.push(result)
          console.error(
            `[${runs.length}/${total}] ${label}: ${fmtInt(result.perSec)} appends/s ` +
              `(${fmtInt(result.records)} in ${fmt(result.seconds, 2)} s)`,
          )
        }
      }
    }
    report(opts, runs, fsType, (nowMs() - started) / 1000)
  })
}

function parseOptions(args: string[]): Options {
  const flags = parseFlags(args, FLAGS)
  const appenders = listFlag(flags, 'appenders', ['1', '16', '512']).map((s) => {
    const n = Number(s)
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`--appenders: bad count "${s}"`)
    return n
  })
  const records = numberFlag(flags, 'records', 600_000)
  // Latencies are kept in memory, 8 bytes a record.
  if (records > MAX_RECORDS) throw new Error(`--records: at most ${MAX_RECORDS}`)
  return {
    seconds: numberFlag(flags, 'seconds', 2, true),
    records,
    repeats: numberFlag(flags, 'repeats', 3),
    appenders: [...new Set(appenders)],
    modes: listFlag(flags, 'modes', MODES, MODES) as Durability[],
    payloadBytes: numberFlag(flags, 'payload-bytes', 100),
    parent: flags.get('dir') ?? tmpdir(),
  }
}

async function runInDir(dir: string, measure: (dir: string) => Promise<RunResult>): Promise<RunResult> {
  try {
    return await measure(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- measurements

async function measureOutbox(
  dir: string,
  mode: Durability,
  appenders: number,
  opts: Options,
  workload: Workload,
  signal: AbortSignal,
): Promise<RunResult> {
  // No reserve file: creating it would write reserveBytes in every run; it plays no part in appends.
  // maxBytes out of reach, so a long run measures appends rather than whenFull; the free-disk guard stays.
  const outbox = await Outbox.open({ dir, durability: mode, reserveBytes: 0, maxBytes: 2 ** 50 })
  const latencies = new Float64Array(opts.records)
  let issued = 0
  let done = 0
  const io0 = readProcIo()
  const cpuSpent = cpuMeter()
  const t0 = nowMs()
  const deadline = t0 + opts.seconds * 1000
  const appender = async (records: OutboxRecord[]) => {
    // Two clock reads per append, the start doubling as the deadline check: the harness's own cost is
    // counted against the outbox, so it is kept small.
    for (let k = 0; issued < opts.records && !signal.aborted; k++) {
      const start = nowMs()
      if (start >= deadline) break
      issued++
      await outbox.append([records[k % records.length] as OutboxRecord])
      latencies[done++] = nowMs() - start
    }
  }
  let elapsedMs: number
  let cpu: CpuSpent
  let lastSeq: number
  try {
    await Promise.all(workload.byAppender.slice(0, appenders).map(appender))
    elapsedMs = nowMs() - t0
    cpu = cpuSpent()
    lastSeq = outbox.lastSeq
  } finally {
    await outbox.close()
  }
  // Read after close, so LevelDB's own writes of this run are counted here and not in the next one.
  const disk = diskBytesBetween(io0, readProcIo())
  if (lastSeq !== done)
    console.error(`warning: ${done} appends resolved but the outbox's lastSeq is ${lastSeq}`)
  return result(mode, 'outbox', appenders, done, elapsedMs, latencies, done, cpu, workload, disk)
}

async function measureRaw(
  dir: string,
  mode: Durability,
  opts: Options,
  workload: Workload,
  signal: AbortSignal,
): Promise<RunResult> {
  const db = new ClassicLevel<Buffer, Buffer>(join(dir, 'raw'), {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
  })
  await db.open()
  const sync = mode === 'fsync'
  const values = workload.rawValues
  const latencies = new Float64Array(Math.ceil(opts.records / RAW_BATCH_RECORDS))
  let writes = 0
  let seq = 0
  const io0 = readProcIo()
  const cpuSpent = cpuMeter()
  const t0 = nowMs()
  const deadline = t0 + opts.seconds * 1000
  let elapsedMs: number
  let cpu: CpuSpent
  try {
    while (seq < opts.records && nowMs() < deadline && !signal.aborted) {
      const batch = db.batch()
      const n = Math.min(RAW_BATCH_RECORDS, opts.records - seq)
      for (let i = 0; i < n; i++) {
        seq++
        batch.put(recordKey(seq), values[seq % values.length] as Buffer)
      }
      const start = nowMs()
      await batch.write({ sync })
      latencies[writes++] = nowMs() - start
    }
    elapsedMs = nowMs() - t0
    cpu = cpuSpent()
  } finally {
    await db.close()
  }
  const disk = diskBytesBetween(io0, readProcIo())
  return result(mode, 'raw', 1, seq, elapsedMs, latencies, writes, cpu, workload, disk)
}

function result(
  mode: Durability,
  writer: Writer,
  appenders: number,
  records: number,
  elapsedMs: number,
  latencies: Float64Array,
  samples: number,
  cpu: CpuSpent,
  workload: Workload,
  disk: DiskBytes | undefined,
): RunResult {
  return {
    mode,
    writer,
    appenders,
    records,
    seconds: elapsedMs / 1000,
    perSec: records / (elapsedMs / 1000),
    p50Ms: percentile(latencies, samples, 50),
    p99Ms: percentile(latencies, samples, 99),
    cpuUsPerRecord: cpu.processUs / records,
    mainUsPerRecord: cpu.mainThreadUs / records,
    payloadBytes: records * workload.payloadBytes,
    disk,
  }
}

// ---------------------------------------------------------------- workload

const RECORDS_PER_APPENDER = 8
const PAYLOAD_POOL = 256
const RAW_POOL = 4096

/**
 * Telemetry-like payloads (JSON with random digits, padded to size) from a fixed seed: LevelDB
 * compresses blocks with Snappy, so the content matters for the disk figures and must not be all zeros.
 */
function buildWorkload(maxAppenders: number, payloadBytes: number): Workload {
  const random = mulberry32(0x5eed0b0c)
  const payloads = Array.from({ length: PAYLOAD_POOL }, (_, i) => telemetryPayload(i, payloadBytes, random))
  const width = Math.max(3, String(maxAppenders - 1).length)
  const ts = Date.now()
  const record = (device: number, i: number): OutboxRecord => {
    const id = `dev-${String(device).padStart(width, '0')}`
    const payload = payloads[i % PAYLOAD_POOL] as Buffer
    return { topic: `sensors/${id}/telemetry`, payload, qos: 1, retain: false, ts, origin: id, to: 'all' }
  }
  const byAppender = Array.from({ length: maxAppenders }, (_, a) =>
    Array.from({ length: RECORDS_PER_APPENDER }, (_, j) => record(a, a * RECORDS_PER_APPENDER + j)),
  )
  const rawValues: Buffer[] = []
  let offset = 0
  for (let i = 0; i < RAW_POOL; i++) {
    const value = encodeRecord(record(i % maxAppenders, i), offset)
    rawValues.push(value)
    offset += recordKey(0).length + value.length
  }
  return { byAppender, rawValues, payloadBytes }
}

// ---------------------------------------------------------------- report

interface Figure {
  best: RunResult
  /** appends/s of every repeat, in run order. */
  runs: number[]
}

function report(opts: Options, runs: RunResult[], fsType: string, durationSec: number): void {
  const figures = new Map<string, Figure>()
  for (const r of runs) {
    const key = figureKey(r.mode, r.writer, r.appenders)
    const f = figures.get(key)
    if (!f) figures.set(key, { best: r, runs: [r.perSec] })
    else {
      f.runs.push(r.perSec)
      if (r.perSec > f.best.perSec) f.best = r
    }
  }

  const rows: string[][] = []
  const results: object[] = []
  const diskSources = new Set<DiskBytes['source']>()
  for (const mode of opts.modes) {
    const raw = figures.get(figureKey(mode, 'raw', 1))
    const entries: Array<[Writer, number]> = [
      ['raw', 1],
      ...opts.appenders.map((n): [Writer, number] => ['outbox', n]),
    ]
    for (const [writer, appenders] of entries) {
      const f = figures.get(figureKey(mode, writer, appenders))
      if (!f) continue
      const r = f.best
      const ratio = writer === 'raw' || !raw ? undefined : r.perSec / raw.best.perSec
      const diskPerByte = r.disk && r.payloadBytes > 0 ? r.disk.bytes / r.payloadBytes : undefined
      const spread = (Math.max(...f.runs) - Math.min(...f.runs)) / r.perSec
      if (r.disk) diskSources.add(r.disk.source)
      rows.push([
        mode,
        writer === 'raw' ? `raw (${RAW_BATCH_RECORDS}/write)` : String(appenders),
        fmtInt(r.perSec),
        f.runs.length > 1 ? `${fmt(spread * 100, 0)}%` : '',
        ratio === undefined ? '' : `${fmt(ratio * 100, 1)}%`,
        fmt(r.p50Ms, 2),
        fmt(r.p99Ms, 2),
        fmt(r.cpuUsPerRecord, 2),
        fmt(r.mainUsPerRecord, 2),
        fmt(diskPerByte, 2) + (r.disk?.source === 'wchar' ? ' (wchar)' : ''),
        fmtInt(r.records),
        fmt(r.seconds, 2),
      ])
      results.push({
        mode,
        writer,
        appenders: writer === 'raw' ? undefined : appenders,
        rawBatchRecords: writer === 'raw' ? RAW_BATCH_RECORDS : undefined,
        appendsPerSec: round(r.perSec, 1),
        ratioVsRaw: round(ratio, 4),
        p50Ms: round(r.p50Ms, 3),
        p99Ms: round(r.p99Ms, 3),
        cpuUsPerAppend: round(r.cpuUsPerRecord, 3),
        mainThreadUsPerAppend: round(r.mainUsPerRecord, 3),
        records: r.records,
        seconds: round(r.seconds, 3),
        payloadBytes: r.payloadBytes,
        diskBytes: r.disk?.bytes ?? null,
        diskSource: r.disk?.source ?? null,
        diskBytesPerPayloadByte: round(diskPerByte, 3),
        runsAppendsPerSec: f.runs.map((x) => round(x, 1)),
      })
    }
  }

  console.log(
    `outbox append benchmark: ${opts.payloadBytes}-byte payloads, runs of ≤ ${opts.seconds} s / ` +
      `≤ ${fmtInt(opts.records)} records, best of ${opts.repeats}; data dir on ${fsType}`,
  )
  console.log('')
  console.log(
    formatTable(
      [
        { title: 'mode', align: 'left' },
        { title: 'appenders', align: 'left' },
        { title: 'appends/s' },
        { title: 'spread' },
        { title: 'vs raw' },
        { title: 'p50 ms' },
        { title: 'p99 ms' },
        { title: 'cpu µs/rec' },
        { title: 'main µs/rec' },
        { title: 'disk B/payload B' },
        { title: 'records' },
        { title: 'secs' },
      ],
      rows,
    ),
  )
  console.log('')
  const source =
    diskSources.size === 0 ? 'unavailable (no /proc/self/io)' : [...diskSources].join(' or ') + ' delta'
  for (const note of [
    `raw: pre-encoded records in ClassicLevel chained batches of ${RAW_BATCH_RECORDS}, sync in fsync mode ` +
      "only; its p50/p99 are per batch write, an append's are per append.",
    'appends/s: best of the repeats; spread: (slowest - fastest) / best across them.',
    "cpu µs/rec: process CPU, all threads (LevelDB's too); main µs/rec: CPU of the JavaScript thread alone.",
    `disk B/payload B: ${source} of /proc/self/io over the run and the close, per payload byte.`,
  ])
    console.log(note)
  const rawTarget = figures.get(figureKey(TARGET.mode, 'raw', 1))
  const outTarget = figures.get(figureKey(TARGET.mode, 'outbox', TARGET.appenders))
  const targetRatio = rawTarget && outTarget ? outTarget.best.perSec / rawTarget.best.perSec : undefined
  const pass = targetRatio === undefined ? undefined : targetRatio >= TARGET.ratio
  const what = `group commit, ${TARGET.mode} mode, ${TARGET.appenders} appenders ≥ ${TARGET.ratio * 100}% of raw ${TARGET.mode}`
  console.log(
    targetRatio === undefined
      ? `TARGET ${what}: not measured (needs --modes ${TARGET.mode} and --appenders ${TARGET.appenders})`
      : `TARGET ${what}: ${fmt(targetRatio * 100, 1)}% → ${pass ? 'PASS' : 'FAIL'}`,
  )
  console.log(`total ${fmt(durationSec, 1)} s`)

  printJsonLine({
    bench: 'outbox',
    ...machine(fsType),
    options: {
      seconds: opts.seconds,
      records: opts.records,
      repeats: opts.repeats,
      payloadBytes: opts.payloadBytes,
      rawBatchRecords: RAW_BATCH_RECORDS,
    },
    durationSec: round(durationSec, 1),
    results,
    target: {
      mode: TARGET.mode,
      appenders: TARGET.appenders,
      threshold: TARGET.ratio,
      ratio: round(targetRatio, 4),
      pass: pass ?? null,
    },
  })
}

function figureKey(mode: Durability, writer: Writer, appenders: number): string {
  return `${mode}/${writer}/${appenders}`
}
