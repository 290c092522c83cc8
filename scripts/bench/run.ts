// Benchmark dispatcher: `node dist/scripts/bench/run.js NAME [args]` (or `npm run bench -- NAME [args]`)
// loads `NAME.js` from this folder and runs its exported `main(args)`. A benchmark is any module here
// except the dispatcher and the shared helpers, so adding one needs no change in this file.
import { readdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/** Modules in this folder that are not benchmarks. */
const NOT_BENCHMARKS = new Set([
  'run',
  'report',
  'workload',
  'node-child',
  'gateway-child',
  'mqtt-load',
  'aedes-memory-broker',
  'raw-publisher',
  'drain-sink',
  'drain-publisher',
  'kafka-publisher',
  'kafka-bench-record',
  'kafka-bench-topic',
])

interface BenchmarkModule {
  main(args: string[]): Promise<void>
}

async function availableBenchmarks(): Promise<string[]> {
  const dir = fileURLToPath(new URL('.', import.meta.url))
  const names = (await readdir(dir))
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -'.js'.length))
    .filter((name) => !NOT_BENCHMARKS.has(name))
  return names.sort()
}

function isBenchmark(mod: unknown): mod is BenchmarkModule {
  return typeof (mod as { main?: unknown }).main === 'function'
}

async function run(argv: string[]): Promise<number> {
  const [name, ...args] = argv
  const available = await availableBenchmarks()
  // Only names found in the folder are imported: NAME never becomes an arbitrary path.
  if (name === undefined || !available.includes(name)) {
    if (name !== undefined && name !== '--help' && name !== '-h') console.error(`unknown benchmark "${name}"`)
    console.error('usage: npm run bench -- NAME [args]')
    console.error(`available benchmarks: ${available.length > 0 ? available.join(', ') : '(none)'}`)
    return 2
  }
  const mod: unknown = await import(new URL(`./${name}.js`, import.meta.url).href)
  if (!isBenchmark(mod)) {
    console.error(`${name}.js does not export main(args)`)
    return 2
  }
  await mod.main(args)
  return 0
}

try {
  process.exitCode = await run(process.argv.slice(2))
} catch (err) {
  console.error(err)
  process.exitCode = 1
}
