// Another process holding an outbox open, as a running gateway would: the CLI tests check that
// `outpost outbox` refuses (exit 75) while it holds the lock and works once it is gone. It opens the
// outbox with the built store (dist/), prints "ready" once it holds it, and exits by itself after 30 s.
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type LineChild, spawnLines } from './child.js'
import { REPO_ROOT } from './cli.js'
import { NO_DISK_GUARD } from './outbox.js'

/** Starts the holder of the outbox in `dir`; wait for its first line ("ready") before relying on the lock. */
export function holdOutbox(dir: string): LineChild {
  const storeUrl = pathToFileURL(join(REPO_ROOT, 'dist/store/outbox.js')).href
  return spawnLines(process.execPath, [
    '--input-type=module',
    '-e',
    `import { Outbox } from ${JSON.stringify(storeUrl)}
const outbox = await Outbox.open(${JSON.stringify({ dir, ...NO_DISK_GUARD })})
process.stdout.write('ready\\n')
// Never outlive a test that lost track of us.
setTimeout(() => outbox.close().then(() => process.exit(0)), 30_000)`,
  ])
}
