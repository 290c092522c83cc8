// `npm run bench -- reopen`: the outbox's open time must not grow with the backlog (issue #2). Opens an
// outbox holding 10k and 1M records — after a clean close, and after a kill -9 in the middle of appends
// (so LevelDB replays its log) — and compares. Opening reads the state, one reverse seek and the
// cursors; it never scans the records.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Outbox } from '../../store/outbox.js'
import type { OutboxRecord } from '../../store/record-codec.js'
import { fmt, fmtInt, formatTable, listFlag, nowMs, numberFlag, parseFlags, printJsonLine } from './report.js'

const RUN = fileURLToPath(new URL('./run.js', import.meta.url))
const NO_GUARD = { reserveBytes: 0, minFreeDiskBytes: 0, maxBytes: 2 ** 40 }

function record(i: number): OutboxRecord {
  return {
    topic: `sensors/dev-${String(i % 1000).padStart(3, '0')}/telemetry`,
    payload: Buffer.from(
      `{"t":${20 + (i % 10)},"h":${40 + (i % 30)},"seq":${String(i).padStart(10, '0')}}`.padEnd(100, ' '),
    ),
    qos: 1,
    retain: false,
    ts: Date.now(),
    origin: `dev-${i % 1000}`,
    to: 'all',
  }
}

async function fill(outbox: Outbox, from: number, count: number): Promise<void> {
  const batch = 1000
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i)
    await outbox.append(Array.from({ length: n }, (_, k) => record(from + i + k)))
  }
}

async function timeOpen(dir: string): Promise<{ ms: number; lastSeq: number }> {
  const t0 = nowMs()
  const outbox = await Outbox.open({ dir, ...NO_GUARD })
  const ms = nowMs() - t0
  const lastSeq = outbox.lastSeq
  await outbox.close()
  return { ms, lastSeq }
}

/** The crash child: appends `count` more records with a cursor moving behind them, then waits to be killed. */
async function child(dir: string, count: number): Promise<void> {
  const outbox = await Outbox.open({ dir, durability: 'none', ...NO_GUARD })
  outbox.cursor('cloud')
  await fill(outbox, outbox.lastSeq + 1, count)
  void outbox.commit('cloud', Math.floor(outbox.lastSeq / 2))
  await outbox.flush()
  process.stdout.write('appended\n')
  await new Promise(() => undefined) // until SIGKILL
}

function crashAfterAppending(dir: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [RUN, 'reopen', '--child', dir, '--crash-records', String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error('crash child did not finish appending within 120 s'))
    }, 120_000)
    p.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('appended')) p.kill('SIGKILL')
    })
    p.on('exit', (_code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve()
      else reject(new Error(`crash child exited without being killed (${_code})`))
    })
  })
}

export async function main(args: string[]): Promise<void> {
  const flags = parseFlags(args, ['records', 'opens', 'crash-records', 'child', 'dir'])
  const crashRecords = numberFlag(flags, 'crash-records', 20_000)
  const childDir = flags.get('child')
  if (childDir) return child(childDir, crashRecords)

  const sizes = listFlag(flags, 'records', ['10000', '1000000']).map(Number)
  const opens = numberFlag(flags, 'opens', 5)
  const parent = flags.get('dir') ?? tmpdir()
  const rows: string[][] = []
  const results: Array<Record<string, number>> = []
  const started = nowMs()
  for (const n of sizes) {
    const dir = mkdtempSync(join(parent, 'outpost-bench-reopen-'))
    try {
      const t0 = nowMs()
      const outbox = await Outbox.open({ dir, durability: 'none', ...NO_GUARD })
      await fill(outbox, 1, n)
      await outbox.close()
      const fillSec = (nowMs() - t0) / 1000
      const clean: number[] = []
      for (let i = 0; i < opens; i++) clean.push((await timeOpen(dir)).ms)
      clean.sort((a, b) => a - b)
      const cleanMs = clean[Math.floor(clean.length / 2)] as number

      await crashAfterAppending(dir, crashRecords)
      const crashed = await timeOpen(dir)
      if (crashed.lastSeq !== n + crashRecords) {
        throw new Error(`after kill -9: lastSeq ${crashed.lastSeq}, expected ${n + crashRecords}`)
      }
      rows.push([
        fmtInt(n),
        fmt(fillSec, 1),
        fmt(cleanMs, 1),
        fmt(clean[0], 1),
        fmt(crashed.ms, 1),
        fmtInt(crashed.lastSeq),
      ])
      results.push({
        records: n,
        cleanOpenMs: cleanMs,
        cleanOpenMinMs: clean[0] as number,
        crashOpenMs: crashed.ms,
      })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(
    `outbox open time vs backlog (median of ${opens} clean opens; one open after kill -9 during ${fmtInt(crashRecords)} appends)\n`,
  )
  console.log(
    formatTable(
      [
        { title: 'records' },
        { title: 'fill s' },
        { title: 'open ms (median)' },
        { title: 'open ms (min)' },
        { title: 'open ms after kill -9' },
        { title: 'lastSeq after kill -9' },
      ],
      rows,
    ),
  )
  const small = results[0]
  const large = results[results.length - 1]
  let ratio: number | undefined
  if (small && large && small !== large) {
    ratio = (large.cleanOpenMs as number) / (small.cleanOpenMs as number)
    const crashRatio = (large.crashOpenMs as number) / (small.crashOpenMs as number)
    console.log(
      `\nTARGET open time does not grow with the backlog (${fmtInt(large.records)} vs ${fmtInt(small.records)} records, ≤ 2×): clean ${fmt(ratio, 2)}×, after kill -9 ${fmt(crashRatio, 2)}× → ${ratio <= 2 && crashRatio <= 2 ? 'PASS' : 'FAIL'}`,
    )
  }
  console.log(`total ${fmt((nowMs() - started) / 1000, 1)} s`)
  printJsonLine({ bench: 'reopen', opens, crashRecords, results, ratio })
}
