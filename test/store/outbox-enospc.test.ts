// A full disk, for real: the outbox lives on an 8 MiB tmpfs that a filler file has nearly filled.
// ENOSPC must surface as a typed, retryable OUTPOST_OUTBOX_NO_SPACE, lose nothing acknowledged, and the
// outbox must recover by itself once space is back. The disk guard must refuse before ENOSPC happens.
import { randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { OutboxError } from '../../store/errors.js'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import { needs } from '../helpers/needs.js'
import { eventually, range, readAll, rec, sleep, within } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'
import { fillUntilFree, freeBytes, mountTmpfs, unmount } from '../helpers/tmpfs.js'

const MIB = 2 ** 20
const MNT = tempDir('outpost-enospc-')
const mounted = mountTmpfs(MNT, '8m')
const FILLER = join(MNT, 'filler')
const RECORD_BYTES = 16 * 1024

const opened: Outbox[] = []
async function open(name: string, options: Partial<OutboxOptions>): Promise<Outbox> {
  const dir = join(MNT, name)
  mkdirSync(dir)
  const outbox = await Outbox.open({ dir, durability: 'fsync', ...options })
  opened.push(outbox)
  return outbox
}

/** Appends one 16 KiB random record at a time until an append is refused (at most `max` tries). */
async function appendUntilRefused(outbox: Outbox, max: number) {
  const acked = new Map<number, Buffer>()
  for (let i = 0; i < max; i++) {
    const payload = randomBytes(RECORD_BYTES)
    try {
      acked.set(await outbox.append([rec(i, { payload })]), payload)
    } catch (err) {
      return { acked, err }
    }
  }
  return { acked, err: undefined }
}

async function expectIntact(outbox: Outbox, acked: Map<number, Buffer>): Promise<void> {
  const all = await readAll(outbox)
  const bySeq = new Map(all.map((r) => [r.seq, Buffer.from(r.payload)]))
  for (const [seq, payload] of acked) {
    expect(bySeq.get(seq)?.equals(payload), `acknowledged record ${seq} is missing or damaged`).toBe(true)
  }
  expect(all.map((r) => r.seq)).toEqual(range(1, all.length)) // no gaps either
}

describe.skipIf(!needs('root and a tmpfs mount', mounted))('outbox on a full disk', () => {
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close()
    rmSync(FILLER, { force: true })
    for (const name of ['enospc', 'roomy', 'guard']) rmSync(join(MNT, name), { recursive: true, force: true })
  })
  afterAll(() => unmount(MNT))

  test('ENOSPC rejects with OUTPOST_OUTBOX_NO_SPACE, keeps what was acknowledged, and recovers', async () => {
    fillUntilFree(FILLER, 1.5 * MIB)
    const outbox = await open('enospc', { minFreeDiskBytes: 0, reserveBytes: 256 * 1024 })
    const { acked, err } = await appendUntilRefused(outbox, 500)
    expect(acked.size, 'appends before the disk filled').toBeGreaterThan(10)
    expect(err).toBeInstanceOf(OutboxError)
    expect(err).toMatchObject({ code: 'OUTPOST_OUTBOX_NO_SPACE', canRetry: true })
    const lastAcked = Math.max(...acked.keys())

    // While the disk is still full, what was acknowledged must stay readable (forwarders keep draining).
    const whileFull = await within(readAll(outbox), 8_000, 'read still pending after 8 s' as const)
    expect.soft(whileFull, 'read() while the disk is full').not.toBe('read still pending after 8 s')
    if (Array.isArray(whileFull)) {
      expect(whileFull.filter((r) => acked.get(r.seq)?.equals(Buffer.from(r.payload))).length).toBe(
        acked.size,
      )
    }

    rmSync(FILLER)
    const deadline = Date.now() + 30_000
    let seq: number | undefined
    const codes = new Set<string>()
    for (let i = 0; i < 300 && seq === undefined && Date.now() < deadline; i++) {
      try {
        seq = await outbox.append([rec(9999, { payload: Buffer.from('after the disk was freed') })])
      } catch (e) {
        codes.add((e as OutboxError).code)
        await sleep(100)
      }
    }
    expect(seq, `appends did not recover within 30 s (errors: ${[...codes]})`).toBe(lastAcked + 1)
    expect([...codes].filter((c) => c !== 'OUTPOST_OUTBOX_NO_SPACE')).toEqual([])
    await expectIntact(outbox, acked)
    const stats = await outbox.stats()
    expect(stats.state).toBe('ok')
    expect(stats.counters.writeFailed).toBeGreaterThanOrEqual(1)

    // And they are on disk, not only in memory: a fresh open sees them all.
    await outbox.close()
    const reopened = await Outbox.open({ dir: join(MNT, 'enospc'), minFreeDiskBytes: 0, reserveBytes: 0 })
    opened.push(reopened)
    await expectIntact(reopened, acked)
    expect(reopened.lastSeq).toBe(lastAcked + 1)
  })

  test('with a reserve larger than what fills the disk, the outbox recovers while the disk stays full', async () => {
    fillUntilFree(FILLER, 1.5 * MIB)
    const outbox = await open('roomy', { minFreeDiskBytes: 0, reserveBytes: 1 * MIB })
    const { acked, err } = await appendUntilRefused(outbox, 500)
    expect(acked.size).toBeGreaterThan(5)
    expect(err).toMatchObject({ code: 'OUTPOST_OUTBOX_NO_SPACE' })
    // Reads keep working while the outbox recovers (the database stays open until it is reopened).
    const read = await within(readAll(outbox), 10_000, 'pending' as const)
    expect(read, 'read() while the disk is full').not.toBe('pending')
    await expectIntact(outbox, acked)
    // Recovery (reopen) writes a table of the replayed log: the released reserve makes room for it.
    const recovered = await eventually(async () => (await outbox.stats()).state === 'ok', {
      timeoutMs: 10_000,
    })
    expect(recovered, 'recovered while the disk stays full').toBe(true)
    await expectIntact(outbox, acked)
  })

  test('minFreeDiskBytes refuses appends as OUTPOST_OUTBOX_FULL (disk) before any ENOSPC', async () => {
    fillUntilFree(FILLER, 2 * MIB)
    const outbox = await open('guard', { minFreeDiskBytes: 1 * MIB, reserveBytes: 0 })
    const { acked, err } = await appendUntilRefused(outbox, 500)
    expect(acked.size).toBeGreaterThan(5)
    expect(err).toBeInstanceOf(OutboxError)
    expect(err).toMatchObject({ code: 'OUTPOST_OUTBOX_FULL', reason: 'disk', canRetry: true })
    expect(freeBytes(MNT), 'the guard stopped with space to spare').toBeGreaterThan(0.5 * MIB)
    await outbox.flush()
    let stats = await outbox.stats()
    expect(stats.counters).toMatchObject({ rejectedDisk: 1, writeFailed: 0 })
    expect(stats.state).toBe('ok')
    await expectIntact(outbox, acked)

    // The guard re-reads free space (at most once a second) and lets appends through again.
    rmSync(FILLER)
    let seq: number | undefined
    for (let i = 0; i < 100 && seq === undefined; i++) {
      seq = await outbox.append([rec(1, { payload: Buffer.from('room again') })]).catch(() => undefined)
      if (seq === undefined) await sleep(100)
    }
    expect(seq, 'appends resumed within 10 s of freeing space').toBe(Math.max(...acked.keys()) + 1)
    await outbox.flush()
    stats = await outbox.stats()
    expect(stats.counters.writeFailed).toBe(0)
    expect(stats.counters.rejectedDisk).toBeGreaterThanOrEqual(1)
  })
})
