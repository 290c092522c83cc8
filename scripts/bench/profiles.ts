// The two memory profiles the drain and ingest benchmarks compare in one run (issue #11):
//   default  node with no flags, LevelDB at classic-level's own sizes (8 MiB cache, 4 MiB memtable,
//            1000 open files): what a gateway run by hand on a big machine would use;
//   pi       what an installed gateway runs with: the node flags of systemd/outpost.service's ExecStart
//            (read from the unit, so the benchmark measures what ships), the config's defaults, and the
//            commit delay scripts/install.sh writes into the config.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export interface Profile {
  name: 'default' | 'pi'
  nodeArgs: string[]
  /** Merged into the gateway config's outbox section. */
  outbox: Record<string, unknown>
}

/** outbox.commitDelayMs in the config scripts/install.sh writes (test/scripts/install.test.ts checks). */
export const PI_COMMIT_DELAY_MS = 50

export const CLASSIC_LEVEL_SIZES = {
  cacheSize: 8 * 2 ** 20,
  writeBufferSize: 4 * 2 ** 20,
  maxOpenFiles: 1000,
  maxFileSize: 2 * 2 ** 20,
}

// systemd/ from scripts/bench/ (sources) or from dist/scripts/bench/ (built).
const UNITS = [
  new URL('../../systemd/outpost.service', import.meta.url),
  new URL('../../../systemd/outpost.service', import.meta.url),
]

/** The node flags of the unit's ExecStart: what comes between the node binary and the script. */
export function unitNodeArgs(): string[] {
  for (const url of UNITS) {
    let text: string
    try {
      text = readFileSync(fileURLToPath(url), 'utf8')
    } catch {
      continue
    }
    const exec = /^ExecStart=(\S+)\s+(.*)$/m.exec(text)
    if (!exec) throw new Error(`${fileURLToPath(url)}: no ExecStart line`)
    const args = (exec[2] as string).split(/\s+/)
    return args.slice(
      0,
      args.findIndex((a) => !a.startsWith('-')),
    )
  }
  throw new Error('systemd/outpost.service not found')
}

export function profiles(names: readonly string[], extraNodeArgs: string[]): Profile[] {
  return names.map((name) => {
    if (name === 'default')
      return { name, nodeArgs: [...extraNodeArgs], outbox: { leveldb: CLASSIC_LEVEL_SIZES } }
    if (name === 'pi')
      return {
        name,
        nodeArgs: [...unitNodeArgs(), ...extraNodeArgs],
        outbox: { commitDelayMs: PI_COMMIT_DELAY_MS },
      }
    throw new Error(`--profiles: unknown profile "${name}" (default, pi)`)
  })
}
