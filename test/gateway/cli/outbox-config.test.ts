// `outpost outbox stats --config F` (#10): the data dir and the size limits come from the gateway's
// config; on a card that is read-only, or a store LevelDB cannot open even after its repair, it says why
// and exits with a status that tells them apart.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { Outbox } from '../../../store/outbox.js'
import { runCli } from '../../helpers/cli.js'
import { needs } from '../../helpers/needs.js'
import { NO_DISK_GUARD } from '../../helpers/outbox.js'
import { tempDir } from '../../helpers/tmp.js'
import { unmount } from '../../helpers/tmpfs.js'

const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) unmount(m)
})

async function seed(dataDir: string, count: number): Promise<void> {
  const outbox = await Outbox.open({ dir: dataDir, ...NO_DISK_GUARD })
  for (let i = 0; i < count; i++) {
    await outbox.append([
      {
        topic: 'sensors/s1/telemetry',
        payload: Buffer.from(`r${i}`),
        qos: 1,
        retain: false,
        ts: 1,
        origin: 'd',
        to: 'all',
      },
    ])
  }
  await outbox.close()
}

describe('outpost outbox stats --config', () => {
  test("reads the config's dataDir and maxBytes (secrets not needed), with no gatewayId", async () => {
    const dir = tempDir()
    const dataDir = join(dir, 'data')
    await seed(dataDir, 3)
    const file = join(dir, 'outpost.yaml')
    writeFileSync(
      file,
      `dataDir: ${dataDir}
outbox: { maxBytes: 5MiB, maxMessages: 1000 }
upstreams: [{ name: cloud, type: mqtt, url: "mqtt://127.0.0.1:1", password: "\${OUTPOST_TEST_UNSET}" }]
`,
    )
    const r = await runCli(['outbox', 'stats', '--config', file, '--json'], { cwd: tempDir() })
    expect(r.code, r.stderr).toBe(0)
    const stats = JSON.parse(r.stdout) as { messages: number; maxBytes: number; maxMessages: number }
    expect(stats).toMatchObject({ messages: 3, maxBytes: 5 * 2 ** 20, maxMessages: 1000 })
  })

  test('a read-only card: exit 73 saying the file system is read-only', async (ctx) => {
    if (!needs('root (to mount a tmpfs read-only)', process.getuid?.() === 0)) return ctx.skip()
    const dataDir = join(tempDir(), 'data')
    mkdirSync(dataDir)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dataDir])
    mounts.push(dataDir)
    await seed(dataDir, 2)
    execFileSync('mount', ['-o', 'remount,ro', dataDir])
    const r = await runCli(['outbox', 'stats', '--data-dir', dataDir])
    expect(r.code).toBe(73)
    expect(r.stderr).toMatch(
      new RegExp(
        `^cannot open the outbox in ${dataDir}/outbox: the file system is read-only .* copy the data dir elsewhere`,
      ),
    )
  })

  test('a store LevelDB cannot open even after repair: exit 74 saying it is damaged', async () => {
    const dataDir = join(tempDir(), 'data')
    await seed(dataDir, 2)
    // LevelDB's lock file turned into a directory, as a damaged file system can leave it.
    rmSync(join(dataDir, 'outbox', 'LOCK'))
    mkdirSync(join(dataDir, 'outbox', 'LOCK'))
    const r = await runCli(['outbox', 'stats', '--data-dir', dataDir])
    expect(r.code).toBe(74)
    expect(r.stderr).toMatch(
      /^cannot open the outbox in .* — the store is damaged beyond what LevelDB's repair could fix/,
    )
  })

  test('--config and --data-dir together, or neither: a usage error (64)', async () => {
    expect((await runCli(['outbox', 'stats'])).code).toBe(64)
    expect((await runCli(['outbox', 'stats', '--data-dir', 'x', '--config', 'y'])).code).toBe(64)
  })
})

describe('outpost outbox stats on a damaged store', () => {
  test('a missing table file: the store is repaired and the stats say what was found and lost', async () => {
    const dataDir = join(tempDir(), 'data')
    for (let round = 0; round < 3; round++) await seed(dataDir, 50) // a table file per reopen
    const { readdirSync, unlinkSync } = await import('node:fs')
    const tables = readdirSync(join(dataDir, 'outbox'))
      .filter((f) => f.endsWith('.ldb'))
      .sort()
    expect(tables.length).toBeGreaterThanOrEqual(2)
    unlinkSync(join(dataDir, 'outbox', tables[0] as string))
    const r = await runCli(['outbox', 'stats', '--data-dir', dataDir])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^damage {4}\d+ records lost \(missing or unreadable\), 1 repair\(s\) now$/m)
    expect(r.stdout).toMatch(
      /^ {2}found: the database could not be opened or read \(Corruption: .*\): repaired$/m,
    )
  })
})
