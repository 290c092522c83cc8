// Crash safety: a real child process appends from several concurrent appenders and prints each seq once
// its append resolved; we SIGKILL it at random points, reopen the same outbox here and check that every
// printed record is there, intact, in order, and that the log has no gaps.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { type LineChild, spawnLines } from '../helpers/child.js'
import { NO_DISK_GUARD, readAll, sleep } from '../helpers/outbox.js'
import { prng } from '../helpers/prng.js'
import { tempDir } from '../helpers/tmp.js'

const FIXTURE = fileURLToPath(new URL('../fixtures/outbox-appender.mjs', import.meta.url))
const BUILT = fileURLToPath(new URL('../../dist/store/outbox.js', import.meta.url))
const WRITERS = 4

interface Printed {
  topic: string
  digest: string
  run: number
}

const children: LineChild[] = []
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill9()
})

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest()

/** Payload = body + SHA-256(body): tells whether the stored bytes are exactly what the child wrote. */
function selfCheckOk(payload: Uint8Array): boolean {
  const buf = Buffer.from(payload)
  if (buf.length < 32) return false
  return sha256(buf.subarray(0, buf.length - 32)).equals(buf.subarray(buf.length - 32))
}

/**
 * Reopens the outbox and checks the whole log against everything printed so far. Returns lastSeq.
 * `where` prefixes every message so a failure names the run and the seed.
 */
async function verify(dir: string, printed: Map<number, Printed>, prevLast: number, where: string) {
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
  try {
    const all = await readAll(outbox)
    expect(outbox.firstSeq, `${where}: firstSeq`).toBe(1)
    expect(outbox.lastSeq, `${where}: lastSeq vs records read`).toBe(all.length)
    expect(outbox.lastSeq, `${where}: the log shrank`).toBeGreaterThanOrEqual(prevLast)

    // Each writer awaits append n before it starts n + 1, and append n holds records 0..n % 3: so per
    // writer the log must hold appends 0, 1, 2, … each complete, whether or not it was printed.
    const lastOfWriter = new Map<string, [number, number]>()
    for (const [i, r] of all.entries()) {
      expect(r.seq, `${where}: gap or disorder at index ${i}`).toBe(i + 1)
      expect(selfCheckOk(r.payload), `${where}: record ${r.seq} (${r.topic}) is damaged`).toBe(true)
      const [, pid, w, n, k] = r.topic.split('/')
      const key = `${pid}/${w}`
      const [an, ai] = [Number(n), Number(k)]
      const [pn, pi] = lastOfWriter.get(key) ?? [-1, -1]
      const next = pi === pn % 3 ? an === pn + 1 && ai === 0 : an === pn && ai === pi + 1
      expect(next, `${where}: writer ${key}: ${an}/${ai} follows ${pn}/${pi} at seq ${r.seq}`).toBe(true)
      lastOfWriter.set(key, [an, ai])
    }
    for (const [key, [n, i]] of lastOfWriter)
      expect(i, `${where}: writer ${key} append ${n} torn`).toBe(n % 3)

    for (const [seq, p] of printed) {
      const r = all[seq - 1] as StoredRecord | undefined
      expect(r, `${where}: printed seq ${seq} (run ${p.run}) is missing`).toBeDefined()
      expect(r?.topic, `${where}: seq ${seq} holds another record`).toBe(p.topic)
      expect(sha256(r!.payload).toString('hex'), `${where}: seq ${seq} payload differs`).toBe(p.digest)
    }
    return outbox.lastSeq
  } finally {
    await outbox.close()
  }
}

async function killLoop(durability: 'fsync' | 'batch', kills: number, budgetMs: number) {
  const seed = Number(process.env['OUTPOST_CRASH_SEED'] ?? Date.now() % 2 ** 31)
  const random = prng(seed)
  const dir = join(tempDir(), 'data')
  const printed = new Map<number, Printed>()
  const started = Date.now()
  let lastSeq = 0

  for (let run = 0; run < kills; run++) {
    const where = `${durability} run ${run} (seed ${seed})`
    expect(Date.now() - started, `${where}: time budget`).toBeLessThan(budgetMs)
    // Every fourth run dies right after opening; the others after a random number of printed records,
    // plus a random few ms so the kill lands at a different point of the append/fsync cycle.
    const target = run % 4 === 0 ? 0 : 1 + Math.floor(random() * 300)
    const child = spawnLines(process.execPath, [FIXTURE, dir, durability, String(WRITERS)])
    children.push(child)
    const reached = await child.waitForLines(1 + target, 20_000)
    if (reached) await sleep(Math.floor(random() * 15))
    const exit = await child.kill9()
    expect(reached, `${where}: printed ${child.lines.length} lines; stderr: ${child.stderr()}`).toBe(true)
    expect(exit.signal, `${where}: exit ${JSON.stringify(exit)}; stderr: ${child.stderr()}`).toBe('SIGKILL')
    expect(child.lines[0], `${where}: first line`).toBe('ready')

    for (const line of child.lines.slice(1)) {
      const [seqText, topic, digest] = line.split(' ')
      const seq = Number(seqText)
      expect(
        Number.isInteger(seq) && topic && digest,
        `${where}: bad line ${JSON.stringify(line)}`,
      ).toBeTruthy()
      expect(seq, `${where}: seq ${seq} reused (last verified ${lastSeq})`).toBeGreaterThan(lastSeq)
      expect(printed.has(seq), `${where}: seq ${seq} printed twice`).toBe(false)
      printed.set(seq, { topic: topic as string, digest: digest as string, run })
    }
    lastSeq = await verify(dir, printed, lastSeq, where)
  }
  return { printed: printed.size, lastSeq }
}

describe.skipIf(!existsSync(BUILT))('outbox under SIGKILL', () => {
  test('fsync: 15 kills at random points lose no acknowledged record', async () => {
    const result = await killLoop('fsync', 15, 40_000)
    // Most runs got well past their first appends, so the kills really hit a busy writer.
    expect(result.printed).toBeGreaterThan(100)
    expect(result.lastSeq).toBeGreaterThanOrEqual(result.printed)
  })

  // DESIGN.md: in batch mode a power cut can lose the unsynced window, a process crash cannot.
  test('batch: 5 kills lose no acknowledged record either', async () => {
    const result = await killLoop('batch', 5, 15_000)
    expect(result.lastSeq).toBeGreaterThanOrEqual(result.printed)
  })
})

test('the crash fixture runs against the built store (npm test builds dist/ first)', () => {
  expect(existsSync(BUILT), `${BUILT} is missing: run \`npx tsc -p tsconfig.build.json\``).toBe(true)
})
