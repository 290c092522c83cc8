// Crash safety: a real child process appends from several concurrent appenders and prints each seq once
// its append resolved; we SIGKILL it at random points, reopen the same outbox here and check that every
// printed record is there, intact, in order, and that the log has no gaps.
//
// What this proves is survival of a process crash. A SIGKILL leaves the kernel's page cache intact, so
// it cannot tell fsync from no fsync: what a power cut keeps is tested in outbox-power-loss.test.ts.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, test } from 'vitest'
import { APPENDER, AppenderLog } from '../helpers/appender-log.js'
import { type LineChild, spawnLines } from '../helpers/child.js'
import { type Deadline, deadline } from '../helpers/deadline.js'
import { sleep } from '../helpers/outbox.js'
import { prng } from '../helpers/prng.js'
import { tempDir } from '../helpers/tmp.js'

const BUILT = fileURLToPath(new URL('../../dist/store/outbox.js', import.meta.url))
const WRITERS = 4

const children: LineChild[] = []
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill9()
})

async function killLoop(durability: 'fsync' | 'batch', kills: number, time: Deadline) {
  const seed = Number(process.env['OUTPOST_CRASH_SEED'] ?? Date.now() % 2 ** 31)
  const random = prng(seed)
  const dir = join(tempDir(), 'data')
  const log = new AppenderLog()
  const started = Date.now()

  for (let run = 0; run < kills; run++) {
    const where = `${durability} run ${run} (seed ${seed})`
    expect(time.left(), `${where}: out of time after ${Date.now() - started} ms`).toBeGreaterThan(0)
    // Every fourth run dies right after opening; the others after a random number of printed records,
    // plus a random few ms so the kill lands at a different point of the append/fsync cycle.
    const target = run % 4 === 0 ? 0 : 1 + Math.floor(random() * 300)
    const child = spawnLines(process.execPath, [APPENDER, dir, durability, String(WRITERS)])
    children.push(child)
    const reached = await child.waitForLines(1 + target, time.left(20_000))
    if (reached) await sleep(Math.floor(random() * 15))
    const exit = await child.kill9()
    expect(reached, `${where}: printed ${child.lines.length} lines; stderr: ${child.stderr()}`).toBe(true)
    expect(exit.signal, `${where}: exit ${JSON.stringify(exit)}; stderr: ${child.stderr()}`).toBe('SIGKILL')
    log.take(child.lines, run, where)
    await log.verify(dir, where)
  }
  return { printed: log.printed.size, lastSeq: log.lastSeq }
}

describe.skipIf(!existsSync(BUILT))('outbox under SIGKILL (a process crash, not a power cut)', () => {
  test('fsync mode: 15 SIGKILLs at random points lose no acknowledged record and leave no gap', async (ctx) => {
    const result = await killLoop('fsync', 15, deadline(ctx, 15_000))
    // Most runs got well past their first appends, so the kills really hit a busy writer.
    expect(result.printed).toBeGreaterThan(100)
    expect(result.lastSeq).toBeGreaterThanOrEqual(result.printed)
  })

  // DESIGN.md: in batch mode a power cut can lose the unsynced window, a process crash cannot. This
  // checks the second half only (acknowledged after the write reached the OS, which outlives the process).
  test('batch mode: 5 SIGKILLs lose no acknowledged record (written to the OS before the ack)', async (ctx) => {
    const result = await killLoop('batch', 5, deadline(ctx, 40_000))
    expect(result.lastSeq).toBeGreaterThanOrEqual(result.printed)
  })
})

test('the crash fixture runs against the built store (npm test builds dist/ first)', () => {
  expect(existsSync(BUILT), `${BUILT} is missing: run \`npx tsc -p tsconfig.build.json\``).toBe(true)
})
