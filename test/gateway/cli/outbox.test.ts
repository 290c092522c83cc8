// `outpost outbox stats|peek --data-dir D` as a real process, on an outbox written here with the store,
// on a directory without one, and on one held open by another process.
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { formatSize } from '../../../config/size.js'
import type { OutboxStats } from '../../../store/outbox.js'
import { Outbox } from '../../../store/outbox.js'
import type { OutboxRecord } from '../../../store/record-codec.js'
import type { LineChild } from '../../helpers/child.js'
import { runCli } from '../../helpers/cli.js'
import { logSize, NO_DISK_GUARD } from '../../helpers/outbox.js'
import { holdOutbox } from '../../helpers/outbox-holder.js'
import { tempDir } from '../../helpers/tmp.js'

const TS = Date.parse('2024-03-01T12:00:00.000Z')
const BINARY = Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x80])
const LONG_TEXT = 'x'.repeat(120)

const RECORDS: OutboxRecord[] = [
  {
    topic: 'sensors/s1/telemetry',
    payload: Buffer.from('{"t":21.5}'),
    qos: 1,
    retain: false,
    ts: TS,
    origin: 'sensor-1',
    to: 'all',
  },
  {
    topic: 'sensors/s2/raw',
    payload: BINARY,
    qos: 0,
    retain: true,
    ts: TS + 1000,
    origin: '',
    to: [
      { upstream: 'cloud', topic: 'sites/gw/raw' },
      { upstream: 'lake', key: 's2' },
    ],
  },
  {
    topic: 'meters/main/reading',
    payload: Buffer.from('kWh=12.5'),
    qos: 1,
    retain: false,
    ts: TS + 2000,
    origin: 'meter',
    to: [{ upstream: 'lake' }],
  },
  {
    topic: 'sensors/s3/telemetry',
    payload: Buffer.from(LONG_TEXT),
    qos: 2,
    retain: false,
    ts: TS + 3000,
    origin: 'sensor-3',
    to: 'all',
  },
]

let dataDir = ''
beforeAll(async () => {
  dataDir = join(tempDir(), 'data')
  const outbox = await Outbox.open({ dir: dataDir, ...NO_DISK_GUARD })
  expect(await outbox.append(RECORDS.slice(0, 2))).toBe(1)
  expect(await outbox.append(RECORDS.slice(2))).toBe(3)
  expect(outbox.cursor('cloud')).toBe(0)
  expect(outbox.cursor('lake')).toBe(0)
  outbox.commit('cloud', 2)
  await outbox.close()
})

describe('outpost outbox stats', () => {
  test('--json prints the numbers of the outbox', async () => {
    const r = await runCli(['outbox', 'stats', '--data-dir', dataDir, '--json'])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const stats = JSON.parse(r.stdout) as OutboxStats
    const bytes = RECORDS.reduce((sum, rec) => sum + logSize(rec), 0)
    expect(stats).toMatchObject({
      state: 'ok',
      firstSeq: 1,
      lastSeq: 4,
      messages: 4,
      appended: 4,
      bytes,
    })
    const cursors = [...stats.cursors].sort((a, b) => a.name.localeCompare(b.name))
    expect(cursors).toEqual([
      {
        name: 'cloud',
        position: 2,
        backlogMessages: 2,
        backlogBytes: logSize(RECORDS[2] as OutboxRecord) + logSize(RECORDS[3] as OutboxRecord),
        oldestAgeMs: expect.any(Number),
      },
      { name: 'lake', position: 0, backlogMessages: 4, backlogBytes: bytes, oldestAgeMs: expect.any(Number) },
    ])
    expect(cursors[0]?.oldestAgeMs).toBeGreaterThanOrEqual(Date.now() - (TS + 2000) - 60_000)
    expect(stats.counters).toMatchObject({ evicted: 0, expired: 0, upstreamRemoved: 0 })
  })

  test('prints the records, bytes and cursors for humans', async () => {
    const r = await runCli(['outbox', 'stats', '--data-dir', dataDir])
    expect(r.code).toBe(0)
    const bytes = RECORDS.reduce((sum, rec) => sum + logSize(rec), 0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe(`outbox ${dataDir}: ok, durability fsync`)
    expect(lines).toContain(`records   4 (seq 1..4), ${formatSize(bytes)} of 1 GiB`)
    expect(lines).toContain('appended  4 since the outbox was created')
    expect(lines).toContain(
      'dropped   0 evicted (drop-oldest), 0 expired (maxAgeSec), 0 with a removed upstream',
    )
    expect(lines).toContain('cursors:')
    const cloudBacklog = formatSize(logSize(RECORDS[2] as OutboxRecord) + logSize(RECORDS[3] as OutboxRecord))
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`^  cloud {12}at 2, backlog 2 records, ${cloudBacklog}, oldest `)),
    )
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}lake {13}at 0, backlog 4 records, /))
  })
})

describe('outpost outbox peek', () => {
  test('--limit N prints the first N records, binary payloads in hex', async () => {
    const r = await runCli(['outbox', 'peek', '--data-dir', dataDir, '--limit', '2'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      '1 2024-03-01T12:00:00.000Z qos1 sensors/s1/telemetry from=sensor-1 to=all 10B "{\\"t\\":21.5}"\n' +
        '2 2024-03-01T12:00:01.000Z qos0 retain sensors/s2/raw from=- to=cloud,lake 6B 0x000102fffe80\n',
    )
  })

  test('long text payloads are cut short in the text view', async () => {
    const r = await runCli(['outbox', 'peek', '--data-dir', dataDir])
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(4)
    expect(lines[2]).toBe(
      '3 2024-03-01T12:00:02.000Z qos1 meters/main/reading from=meter to=lake 8B "kWh=12.5"',
    )
    expect(lines[3]).toBe(
      `4 2024-03-01T12:00:03.000Z qos2 sensors/s3/telemetry from=sensor-3 to=all 120B "${'x'.repeat(80)}…"`,
    )
  })

  test('--json prints one record a line with its exact payload bytes', async () => {
    const r = await runCli(['outbox', 'peek', '--data-dir', dataDir, '--json', '--limit', '10'])
    expect(r.code).toBe(0)
    const records = r.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(records.map((rec) => rec.seq)).toEqual([1, 2, 3, 4])
    for (const [i, rec] of records.entries()) {
      const written = RECORDS[i] as OutboxRecord
      expect(rec).toEqual({
        seq: i + 1,
        ts: new Date(written.ts).toISOString(),
        topic: written.topic,
        qos: written.qos,
        retain: written.retain,
        origin: written.origin,
        to: written.to,
        payloadBase64: Buffer.from(written.payload).toString('base64'),
      })
    }
    expect(Buffer.from(records[1]?.payloadBase64 as string, 'base64').equals(BINARY)).toBe(true)
  })

  test('--cursor NAME starts after that cursor', async () => {
    const cloud = await runCli(['outbox', 'peek', '--data-dir', dataDir, '--cursor', 'cloud', '--json'])
    expect(cloud.code).toBe(0)
    expect(
      cloud.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([3, 4])
    const lake = await runCli([
      'outbox',
      'peek',
      '--data-dir',
      dataDir,
      '--cursor',
      'lake',
      '--limit',
      '1',
      '--json',
    ])
    expect(
      lake.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([1])
  })

  test('an unknown cursor or a bad --limit is a usage error (64)', async () => {
    const unknown = await runCli(['outbox', 'peek', '--data-dir', dataDir, '--cursor', 'nope'])
    expect(unknown.code).toBe(64)
    expect(unknown.stderr).toMatch(/no cursor "nope" \(cursors: (cloud, lake|lake, cloud)\)/)
    for (const limit of ['0', '-3', 'ten', '1.5']) {
      const r = await runCli(['outbox', 'peek', '--data-dir', dataDir, `--limit=${limit}`])
      expect(r.code, limit).toBe(64)
      expect(r.stderr).toContain('--limit must be a positive whole number')
    }
    const noDir = await runCli(['outbox', 'stats'])
    expect(noDir.code).toBe(64)
    expect(noDir.stderr).toContain('--data-dir is required')
  })

  test('an outbox with no records prints "(no records)"', async () => {
    const empty = join(tempDir(), 'data')
    const outbox = await Outbox.open({ dir: empty, ...NO_DISK_GUARD })
    await outbox.close()
    const r = await runCli(['outbox', 'peek', '--data-dir', empty])
    expect(r).toMatchObject({ code: 0, stdout: '(no records)\n' })
  })
})

describe('outpost outbox without a usable outbox', () => {
  const children: LineChild[] = []
  afterEach(async () => {
    for (const c of children.splice(0)) await c.kill9()
  })

  test('a directory without an outbox exits 69', async () => {
    const empty = tempDir()
    for (const sub of ['stats', 'peek']) {
      const r = await runCli(['outbox', sub, '--data-dir', empty])
      expect(r.code, sub).toBe(69)
      expect(r.stderr).toBe(`no outbox in ${empty} (expected ${join(empty, 'outbox')})\n`)
    }
    const missing = await runCli(['outbox', 'stats', '--data-dir', join(empty, 'does-not-exist')])
    expect(missing.code).toBe(69)
  })

  test('an outbox held open by another process: exit 75, saying it is locked; usable once that process is gone', async () => {
    const dir = join(tempDir(), 'data')
    const seed = await Outbox.open({ dir, ...NO_DISK_GUARD })
    await seed.append(RECORDS.slice(0, 1))
    await seed.close()

    const holder = holdOutbox(dir)
    children.push(holder)
    expect(await holder.waitForLines(1, 20_000), holder.stderr()).toBe(true)
    expect(holder.lines[0]).toBe('ready')

    const locked = await runCli(['outbox', 'stats', '--data-dir', dir])
    expect(locked.code).toBe(75)
    expect(locked.stderr).toMatch(/locked by another process/)
    expect(locked.stderr).toContain('/api/status')
    expect(locked.stdout).toBe('')
    const peek = await runCli(['outbox', 'peek', '--data-dir', dir])
    expect(peek.code).toBe(75)

    expect((await holder.kill9()).signal).toBe('SIGKILL')
    const after = await runCli(['outbox', 'stats', '--data-dir', dir, '--json'])
    expect(after.code).toBe(0)
    expect((JSON.parse(after.stdout) as OutboxStats).messages).toBe(1)
  })
})
