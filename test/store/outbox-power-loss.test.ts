// Power loss (issue #12). The outbox-appender child appends to an outbox on a filesystem that forgets
// whatever was not fsync'd (test/helpers/powercut.ts: FUSE, the data of each file kept in memory
// until it is fsync'd). Mid-stream the filesystem process is SIGKILLed: a power cut. The outbox is then
// opened on the backing directory, which holds only what had been fsync'd.
//
//   fsync  every acknowledged append survives, at random cut points, cut after cut
//   none   acknowledged appends are lost (this is what the fsync test would see if fsync went missing)
//   batch  everything acknowledged more than a few sync intervals before the cut survives
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import { APPENDER, AppenderLog } from '../helpers/appender-log.js'
import { type LineChild, spawnLines } from '../helpers/child.js'
import { deadline } from '../helpers/deadline.js'
import { needs } from '../helpers/needs.js'
import { NO_DISK_GUARD, range, readAll, seqsOf, sleep } from '../helpers/outbox.js'
import { PowerCutDir, powerCutUnavailable } from '../helpers/powercut.js'
import { prng } from '../helpers/prng.js'
import { tempDir } from '../helpers/tmp.js'

const WRITERS = 4
/** syncIntervalMs of the appender fixture in batch mode. */
const FIXTURE_SYNC_INTERVAL_MS = 20

const children: LineChild[] = []
const dirs: PowerCutDir[] = []
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill9()
  for (const d of dirs.splice(0)) await d.cut()
})

const missing = powerCutUnavailable()

/** Mounts `root`, starts the appender on it, and waits for `lines` acknowledged records. */
async function appendOn(root: string, durability: string, lines: number, timeoutMs: number) {
  const dir = await PowerCutDir.mount(root)
  dirs.push(dir)
  const child = spawnLines(process.execPath, [
    APPENDER,
    join(dir.mountpoint, 'data'),
    durability,
    String(WRITERS),
  ])
  children.push(child)
  const reached = await child.waitForLines(1 + lines, timeoutMs)
  expect(reached, `printed ${child.lines.length} lines; stderr: ${child.stderr()}`).toBe(true)
  return { dir, child }
}

/** The cut: the filesystem goes first (whatever it did not persist is gone), then the process. */
async function cut(dir: PowerCutDir, child: LineChild): Promise<string[]> {
  await dir.cut()
  await child.kill9()
  return child.lines
}

describe.runIf(needs(missing ?? '', missing === undefined))('outbox after a power cut', () => {
  test('fsync: every acknowledged append survives 4 power cuts at random points', async (ctx) => {
    const time = deadline(ctx)
    const seed = Number(process.env['OUTPOST_CRASH_SEED'] ?? Date.now() % 2 ** 31)
    const random = prng(seed)
    const root = tempDir()
    const log = new AppenderLog()
    for (let run = 0; run < 4; run++) {
      const where = `fsync cut ${run} (seed ${seed})`
      const { dir, child } = await appendOn(root, 'fsync', 20 + Math.floor(random() * 300), time.left(20_000))
      await sleep(Math.floor(random() * 15)) // land anywhere in the append/fsync cycle
      log.take(await cut(dir, child), run, where)
      await log.verify(join(dir.backing, 'data'), where)
    }
    expect(log.printed.size).toBeGreaterThan(80)
  })

  test('none: a power cut loses acknowledged appends (the check above has teeth)', async (ctx) => {
    const time = deadline(ctx)
    const { dir, child } = await appendOn(tempDir(), 'none', 200, time.left(20_000))
    const acked = (await cut(dir, child)).length - 1
    const outbox = await Outbox.open({ dir: join(dir.backing, 'data'), ...NO_DISK_GUARD })
    try {
      const kept = await readAll(outbox)
      expect(seqsOf(kept), 'what is left is a prefix without gaps').toEqual(range(1, kept.length))
      expect(
        kept.length,
        `${acked} acknowledged, ${kept.length} kept: durability none never fsyncs, so a power cut loses them`,
      ).toBeLessThan(acked)
    } finally {
      await outbox.close()
    }
  })

  test('batch: what was acknowledged a few sync intervals before the cut survives it', async (ctx) => {
    const time = deadline(ctx)
    const { dir, child } = await appendOn(tempDir(), 'batch', 100, time.left(20_000))
    // Records acknowledged by now were followed by many syncs before the cut below.
    const safe = child.lines.length - 1
    const before = child.lines.length
    await sleep(25 * FIXTURE_SYNC_INTERVAL_MS)
    expect(child.lines.length, 'still appending when the power goes').toBeGreaterThan(before)
    const lines = await cut(dir, child)
    const log = new AppenderLog()
    log.take(lines.slice(0, 1 + safe), 0, 'batch')
    const lastSeq = await log.verify(join(dir.backing, 'data'), 'batch')
    console.info(`batch: ${lines.length - 1} acknowledged, ${lastSeq} survived the cut`)
  })
})
