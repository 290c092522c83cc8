// Helpers shared by the benchmarks in this folder: flags, timing, /proc/self/io and /proc/PID of a child,
// percentiles, and the two outputs every benchmark prints: a table for people and one `BENCH_JSON {...}`
// line for scripts.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, statfs } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

/** Prefix of the machine-readable line: `grep '^BENCH_JSON ' | cut -c12-` gives the JSON. */
export const JSON_LINE_PREFIX = 'BENCH_JSON '

/** Monotonic milliseconds. */
export function nowMs(): number {
  return performance.now()
}

export interface CpuSpent {
  /** User + system CPU time of the whole process (all threads, so LevelDB's too), in microseconds. */
  processUs: number
  /**
   * CPU time of the main (JavaScript) thread, in microseconds: from /proc/thread-self/schedstat, which
   * does not count time spent waiting for a core on a busy machine; elsewhere the event loop's busy time.
   */
  mainThreadUs: number
}

/** Starts measuring CPU; call it on the main thread. The returned function gives what was spent since. */
export function cpuMeter(): () => CpuSpent {
  const cpu0 = process.cpuUsage()
  const main0 = mainThreadCpuNs()
  const elu0 = performance.eventLoopUtilization()
  return () => {
    const cpu = process.cpuUsage(cpu0)
    const main1 = mainThreadCpuNs()
    const mainThreadUs =
      main0 !== undefined && main1 !== undefined
        ? (main1 - main0) / 1000
        : performance.eventLoopUtilization(elu0).active * 1000
    return { processUs: cpu.user + cpu.system, mainThreadUs }
  }
}

/** Nanoseconds the calling thread has run on a CPU (Linux schedstat), or undefined. */
function mainThreadCpuNs(): number | undefined {
  try {
    const ns = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0])
    return Number.isFinite(ns) ? ns : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------- file system

const FS_TYPES: Record<number, string> = {
  61267: 'ext4',
  16914836: 'tmpfs',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  2035054128: 'overlayfs',
  801189825: 'zfs',
  4076150800: 'f2fs',
}

/** Name of the file system `dir` is on (ext4, tmpfs, …), for the report: fsync costs depend on it. */
export async function fileSystemType(dir: string): Promise<string> {
  try {
    const type = (await statfs(dir)).type
    return FS_TYPES[type] ?? `0x${type.toString(16)}`
  } catch {
    return 'unknown'
  }
}

// ---------------------------------------------------------------- /proc/self/io

export interface IoCounters {
  /** Bytes handed to write(2) and friends, whether or not they reach a disk. */
  wchar: number
  /** Bytes this process caused to be sent to the storage layer (counted when a page is dirtied). */
  writeBytes: number
}

/** Reads /proc/self/io (every thread of the process); undefined where it does not exist. */
export function readProcIo(): IoCounters | undefined {
  let text: string
  try {
    text = readFileSync('/proc/self/io', 'utf8')
  } catch {
    return undefined
  }
  const fields = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [name, value] = line.split(':')
    if (name && value) fields.set(name.trim(), Number(value.trim()))
  }
  const wchar = fields.get('wchar')
  const writeBytes = fields.get('write_bytes')
  if (wchar === undefined || writeBytes === undefined) return undefined
  return { wchar, writeBytes }
}

export type DiskBytesSource = 'write_bytes' | 'wchar'

export interface DiskBytes {
  bytes: number
  source: DiskBytesSource
}

/**
 * Bytes written between two readings: write_bytes, or wchar when write_bytes did not move (tmpfs, or a
 * kernel without task I/O accounting), so the figure is never silently zero.
 */
export function diskBytesBetween(
  before: IoCounters | undefined,
  after: IoCounters | undefined,
): DiskBytes | undefined {
  if (!before || !after) return undefined
  const writeBytes = after.writeBytes - before.writeBytes
  if (writeBytes > 0) return { bytes: writeBytes, source: 'write_bytes' }
  return { bytes: after.wchar - before.wchar, source: 'wchar' }
}

// ---------------------------------------------------------------- /proc/PID of a child process

let clockTicksPerSec: number | undefined

/** USER_HZ, the unit of utime/stime in /proc/PID/stat (100 on every mainstream Linux). */
function clockTicks(): number {
  if (clockTicksPerSec === undefined) {
    try {
      clockTicksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicksPerSec = 100
    }
  }
  return clockTicksPerSec
}

/**
 * CPU time process `pid` has used: every thread (utime + stime from /proc/PID/stat, in clock ticks of
 * 10 ms: measure runs of seconds) and its main thread (/proc/PID/task/PID/schedstat, nanoseconds; for
 * Node the JavaScript thread). Microseconds; undefined once the process is gone.
 */
export function readProcCpu(pid: number): CpuSpent | undefined {
  let stat: string
  let schedstat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    schedstat = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8')
  } catch {
    return undefined
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  // Fields 14 and 15 are utime and stime; after the ')' the list starts at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3])
  const mainNs = Number(schedstat.split(' ')[0])
  if (!Number.isFinite(ticks) || !Number.isFinite(mainNs)) return undefined
  return { processUs: (ticks * 1e6) / clockTicks(), mainThreadUs: mainNs / 1000 }
}

/** CPU spent between two readings of readProcCpu. */
export function cpuBetween(before: CpuSpent | undefined, after: CpuSpent | undefined): CpuSpent | undefined {
  if (!before || !after) return undefined
  return {
    processUs: after.processUs - before.processUs,
    mainThreadUs: after.mainThreadUs - before.mainThreadUs,
  }
}

export interface ProcMemory {
  /** Resident set size now (VmRSS), in bytes. */
  rssBytes: number
  /** Peak resident set size since the process started (VmHWM), in bytes. */
  hwmBytes: number
  /** The anonymous part of VmRSS (heaps, stacks: RssAnon), in bytes. */
  anonBytes: number
  /**
   * The file-backed part of VmRSS (RssFile): mapped files' pages in memory, e.g. LevelDB's memory-mapped
   * table files. Page cache the kernel may reclaim at any time, but counted in RSS.
   */
  fileBytes: number
}

/** Memory of process `pid` from /proc/PID/status; undefined once it is gone. */
export function readProcMemory(pid: number): ProcMemory | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)
    return m ? Number(m[1]) * 1024 : Number.NaN
  }
  const m = {
    rssBytes: kb('VmRSS'),
    hwmBytes: kb('VmHWM'),
    anonBytes: kb('RssAnon'),
    fileBytes: kb('RssFile'),
  }
  return Object.values(m).every(Number.isFinite) ? m : undefined
}

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile (p in 0..100) of the first `n` samples; sorts that part in place. */
export function percentile(samples: Float64Array, n: number, p: number): number {
  if (n <= 0) return Number.NaN
  const part = samples.subarray(0, n).sort()
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)))
  return part[rank - 1] as number
}

// ---------------------------------------------------------------- flags

/** Parses `--name VALUE` / `--name=VALUE` flags against the known names; throws on anything else. */
export function parseFlags(args: readonly string[], known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (!arg.startsWith('--')) throw new Error(`unexpected argument "${arg}"`)
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq)
    if (!known.includes(name)) throw new Error(`unknown flag --${name} (known: --${known.join(', --')})`)
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1)
    if (value === undefined) throw new Error(`flag --${name} needs a value`)
    out.set(name, value)
  }
  return out
}

/** A positive number flag (integer unless `fractional`), or the default. */
export function numberFlag(
  flags: Map<string, string>,
  name: string,
  dflt: number,
  fractional = false,
): number {
  const raw = flags.get(name)
  if (raw === undefined) return dflt
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0 || (!fractional && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${fractional ? 'number' : 'integer'}, got "${raw}"`)
  }
  return n
}

/** A flag whose value must be one of `allowed`, or the default. */
export function choiceFlag<T extends string>(
  flags: Map<string, string>,
  name: string,
  dflt: T,
  allowed: readonly T[],
): T {
  const raw = flags.get(name)
  if (raw === undefined) return dflt
  if (!(allowed as readonly string[]).includes(raw))
    throw new Error(`--${name}: "${raw}" is not one of ${allowed.join(', ')}`)
  return raw as T
}

/** A comma-separated list flag whose items must be among `allowed` (when given), or the default. */
export function listFlag(
  flags: Map<string, string>,
  name: string,
  dflt: readonly string[],
  allowed?: readonly string[],
): string[] {
  const raw = flags.get(name)
  if (raw === undefined) return [...dflt]
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (items.length === 0) throw new Error(`--${name} needs at least one value`)
  for (const item of items) {
    if (allowed && !allowed.includes(item))
      throw new Error(`--${name}: "${item}" is not one of ${allowed.join(', ')}`)
  }
  return items
}

// ---------------------------------------------------------------- output

export interface Column {
  title: string
  /** Right-aligned (numbers) unless 'left'. */
  align?: 'left' | 'right'
}

/** Renders rows as an aligned plain-text table with a rule under the header. */
export function formatTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? ''
        const w = widths[i] as number
        return c.align === 'left' ? cell.padEnd(w) : cell.padStart(w)
      })
      .join('  ')
      .trimEnd()
  const header = line(columns.map((c) => c.title))
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [header, rule, ...rows.map(line)].join('\n')
}

/** What every JSON line says about where it was measured. */
export function machine(fsType: string): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    fsType,
  }
}

/** Prints the one machine-readable line of a benchmark run. */
export function printJsonLine(value: unknown): void {
  console.log(JSON_LINE_PREFIX + JSON.stringify(value))
}

/** Fixed decimals, or '-' for a missing figure. */
export function fmt(n: number | undefined | null, decimals: number): string {
  return n === undefined || n === null || !Number.isFinite(n) ? '-' : n.toFixed(decimals)
}

/** Integer with thousands separators, or '-'. */
export function fmtInt(n: number | undefined | null): string {
  return n === undefined || n === null || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US')
}

/** Rounds for the JSON line so it stays short (null for missing figures). */
export function round(n: number | undefined, decimals: number): number | null {
  if (n === undefined || !Number.isFinite(n)) return null
  const f = 10 ** decimals
  return Math.round(n * f) / f
}

// ---------------------------------------------------------------- session

export interface BenchSession {
  /** A fresh temporary directory, removed when the benchmark ends. */
  root: string
  /** Aborts on Ctrl-C (SIGINT): runs stop and everything is cleaned up. */
  signal: AbortSignal
  started: number
  fsType: string
}

/** True (after printing `usage`) when the arguments ask for help. */
export function printedUsage(args: readonly string[], usage: string): boolean {
  if (!args.includes('--help') && !args.includes('-h')) return false
  console.log(usage)
  return true
}

/** The frame every benchmark runs in: a temp dir under `parent` and Ctrl-C handling, both undone after. */
export async function benchSession(
  prefix: string,
  parent: string,
  body: (session: BenchSession) => Promise<void>,
): Promise<void> {
  const stop = new AbortController()
  const onSigint = () => stop.abort()
  process.once('SIGINT', onSigint)
  const root = await mkdtemp(join(parent, prefix))
  try {
    await body({ root, signal: stop.signal, started: nowMs(), fsType: await fileSystemType(root) })
  } finally {
    process.removeListener('SIGINT', onSigint)
    await rm(root, { recursive: true, force: true })
  }
}
