// Mutation check: `node dist/scripts/mutate/run.js [NAME…] [--baseline] [--keep]` (npm run mutate).
//
// For each mutation of scripts/mutate/mutations.ts (all, or those named): copy the repo to a temp dir
// (node_modules symlinked, dist/ left out), apply the mutation, build, run the mutation's test files
// with vitest, and report it killed (a test failed) or survived (all passed). --baseline first runs
// every listed test file on an unmutated copy: a test that fails without any bug kills nothing.
// --keep leaves the temp copies (and their vitest logs) in place.
//
// Prints one line per mutation, a summary, and a last line of JSON; exits 0 only when every mutation
// was killed.
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { applyMutation } from './apply-mutation.js'
import { MUTATIONS, type Mutation } from './mutations.js'

/** The repo root (this file runs as dist/scripts/mutate/run.js). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
/** Top-level entries not copied: installed, built or generated. */
// .cache (the Kafka broker's jars, qemu root trees with device nodes) is shared, like node_modules.
const NOT_COPIED = new Set([
  'node_modules',
  'dist',
  '.git',
  'data',
  '.bench',
  'coverage',
  '.cache',
  'artifacts',
])
/** A mutation whose build and tests take longer than this is stopped and reported as an error. */
const RUN_LIMIT_MS = 10 * 60_000

type Status = 'killed' | 'survived' | 'error'

interface Result {
  name: string
  status: Status
  ms: number
  /** The first failing test and its message (killed), or what went wrong (error). */
  detail: string
}

interface Outcome {
  code: number | null
  output: string
}

/** Runs a command in its own process group, killed (the whole group) after `limitMs`. */
function run(command: string, args: string[], cwd: string, limitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const keep = (d: Buffer) => {
      output += d.toString()
    }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    const timer = setTimeout(() => {
      output += `\n[mutate] stopped after ${limitMs} ms`
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
    }, limitMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      resolve({ code: null, output: `${output}\n[mutate] ${err.message}` })
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

function copyRepo(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `outpost-mutate-${label}-`))
  cpSync(ROOT, dir, {
    recursive: true,
    filter: (src) => !NOT_COPIED.has(relative(ROOT, src).split(sep)[0] ?? ''),
  })
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
  if (existsSync(join(ROOT, '.cache'))) symlinkSync(join(ROOT, '.cache'), join(dir, '.cache'), 'dir')
  return dir
}

interface VitestReport {
  numPassedTests: number
  numFailedTests: number
  numFailedTestSuites: number
  testResults: Array<{
    name: string
    message?: string
    assertionResults: Array<{ status: string; fullName: string; failureMessages: string[] }>
  }>
}

/** Builds the copy and runs `tests` in it; classifies the outcome. */
async function buildAndTest(dir: string, tests: readonly string[], deadline: number): Promise<Result> {
  const started = performance.now()
  const result = (status: Status, detail: string): Result => ({
    name: '',
    status,
    ms: Math.round(performance.now() - started),
    detail,
  })
  const build = await run(
    join(dir, 'node_modules', '.bin', 'tsc'),
    ['-p', 'tsconfig.build.json'],
    dir,
    deadline - performance.now(),
  )
  if (build.code !== 0) return result('error', `build failed: ${build.output.trim().slice(-1500)}`)

  const reportFile = join(dir, 'vitest-report.json')
  const vitest = await run(
    join(dir, 'node_modules', '.bin', 'vitest'),
    ['run', '--bail=1', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...tests],
    dir,
    Math.max(1, deadline - performance.now()),
  )
  writeFileSync(join(dir, 'vitest.log'), vitest.output)
  if (!existsSync(reportFile)) {
    return result(
      'error',
      `vitest wrote no report (exit ${vitest.code}): ${vitest.output.trim().slice(-1500)}`,
    )
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as VitestReport
  if (vitest.code === 0) {
    if (report.numPassedTests === 0) return result('error', 'no test ran (all skipped: a missing binary?)')
    return result('survived', `${report.numPassedTests} tests passed`)
  }
  if (report.numFailedTests > 0 || report.numFailedTestSuites > 0) {
    for (const file of report.testResults) {
      const failed = file.assertionResults.find((a) => a.status === 'failed')
      if (failed) {
        const message = (failed.failureMessages[0] ?? '').split('\n')[0] ?? ''
        return result('killed', `${relative(dir, file.name)} > ${failed.fullName}: ${message.slice(0, 300)}`)
      }
      if (file.message) return result('killed', `${relative(dir, file.name)}: ${file.message.split('\n')[0]}`)
    }
    return result('killed', `${report.numFailedTests} failed`)
  }
  return result('error', `vitest exit ${vitest.code}: ${vitest.output.trim().slice(-1500)}`)
}

async function mutate(m: Mutation, keep: boolean): Promise<Result> {
  const started = performance.now()
  let dir: string | undefined
  try {
    dir = copyRepo(m.name)
    const path = join(dir, m.file)
    writeFileSync(path, applyMutation(readFileSync(path, 'utf8'), m))
    const r = await buildAndTest(dir, m.tests, started + RUN_LIMIT_MS)
    return { ...r, name: m.name, ms: Math.round(performance.now() - started) }
  } catch (err) {
    return { name: m.name, status: 'error', ms: Math.round(performance.now() - started), detail: String(err) }
  } finally {
    if (dir && !keep) rmSync(dir, { recursive: true, force: true })
    else if (dir) console.log(`  kept ${dir}`)
  }
}

async function baseline(tests: readonly string[], keep: boolean): Promise<Result> {
  const started = performance.now()
  const dir = copyRepo('baseline')
  try {
    const r = await buildAndTest(dir, tests, started + RUN_LIMIT_MS)
    return { ...r, name: 'baseline' }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true })
  }
}

function line(r: Result): string {
  const label = r.status === 'survived' ? 'SURVIVED' : r.status === 'error' ? 'ERROR' : 'killed'
  return `${label.padEnd(8)}  ${r.name.padEnd(24)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  ${r.detail}`
}

async function main(argv: string[]): Promise<number> {
  const keep = argv.includes('--keep')
  const withBaseline = argv.includes('--baseline')
  const names = argv.filter((a) => !a.startsWith('--'))
  const unknown = names.filter((n) => !MUTATIONS.some((m) => m.name === n))
  if (unknown.length > 0 || argv.includes('--help')) {
    if (unknown.length > 0) console.error(`unknown mutation(s): ${unknown.join(', ')}`)
    console.error('usage: npm run mutate -- [NAME…] [--baseline] [--keep]')
    console.error(`mutations: ${MUTATIONS.map((m) => m.name).join(', ')}`)
    return 2
  }
  const selected = names.length > 0 ? MUTATIONS.filter((m) => names.includes(m.name)) : MUTATIONS
  console.log(`mutate: ${selected.length} mutation(s) of ${ROOT}`)

  if (withBaseline) {
    const tests = [...new Set(selected.flatMap((m) => m.tests))]
    const b = await baseline(tests, keep)
    if (b.status !== 'survived') {
      console.log(`baseline: the tests fail without any mutation (${b.detail}); nothing to conclude`)
      console.log(JSON.stringify({ baseline: b }))
      return 1
    }
    console.log(`baseline: ${tests.length} test files pass unmutated (${(b.ms / 1000).toFixed(1)} s)`)
  }

  const results: Result[] = []
  for (const m of selected) {
    const r = await mutate(m, keep)
    results.push(r)
    console.log(line(r))
  }
  const count = (s: Status) => results.filter((r) => r.status === s).length
  const summary = {
    mutations: results.length,
    killed: count('killed'),
    survived: count('survived'),
    errors: count('error'),
  }
  console.log(
    `summary: ${summary.mutations} mutations: ${summary.killed} killed, ${summary.survived} survived, ${summary.errors} errors`,
  )
  const bugs = new Map(MUTATIONS.map((m) => [m.name, m.bug]))
  console.log(
    JSON.stringify({
      ...summary,
      results: results.map((r) => ({
        name: r.name,
        bug: bugs.get(r.name),
        status: r.status,
        ms: r.ms,
        detail: r.detail,
      })),
    }),
  )
  return summary.survived === 0 && summary.errors === 0 ? 0 : 1
}

process.exitCode = await main(process.argv.slice(2))
