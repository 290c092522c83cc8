// The group-commit loop (store/group-commit.ts) against a target of the test's own that records the
// batches it is given: appends made while a batch is written share the next one, appenders are told in
// order and once, a failed batch refuses its appends, flush waits for everything handed over.
import { describe, expect, test } from 'vitest'
import { OutboxError } from '../../store/errors.js'
import {
  type CommitTarget,
  GroupCommit,
  type PendingAppend,
  pendingAppend,
  type Written,
} from '../../store/group-commit.js'
import { rec } from '../helpers/outbox.js'

/** A target whose writes take `writeMs`, numbering records from 1; `failBatch` fails that batch (1-based). */
function recordingTarget(writeMs: number, failBatch = 0) {
  const batches: number[][] = []
  let next = 1
  const target: CommitTarget = {
    writable: () => true,
    hasOtherWork: () => false,
    async write(taken: PendingAppend[]): Promise<Written> {
      const n = batches.length + 1
      batches.push(
        taken.map((p) =>
          Number(
            Buffer.from(p.records[0]?.payload ?? [])
              .toString()
              .slice(4),
          ),
        ),
      )
      await new Promise((r) => setTimeout(r, writeMs))
      if (n === failBatch) throw new Error('write failed')
      const firsts = taken.map((p) => {
        const first = next
        next += p.records.length
        return first
      })
      const tell = () => {
        for (const [i, p] of taken.entries()) p.done(null, firsts[i] as number)
      }
      return { herd: 0, tell }
    },
    failed(_err, taken) {
      for (const p of taken) p.done(new OutboxError('OUTPOST_OUTBOX_WRITE_FAILED', 'failed'), 0)
    },
  }
  return { target, batches }
}

function append(commits: GroupCommit, i: number): Promise<number> {
  return new Promise((resolve, reject) => {
    commits.add(pendingAppend([rec(i)], (err, first) => (err ? reject(err) : resolve(first))))
  })
}

describe('group commit', () => {
  test('appends of one tick share a batch; those made during a write share the next; order holds', async () => {
    const { target, batches } = recordingTarget(20)
    const commits = new GroupCommit(target)
    const first = [1, 2, 3].map((i) => append(commits, i))
    await new Promise((r) => setTimeout(r, 5)) // the first batch is being written
    const second = [4, 5].map((i) => append(commits, i))
    expect(await Promise.all([...first, ...second])).toEqual([1, 2, 3, 4, 5])
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ])
  })

  test('a failed batch refuses exactly its appends; the next batch goes on', async () => {
    const { target, batches } = recordingTarget(5, 1)
    const commits = new GroupCommit(target)
    const a = append(commits, 1)
    await expect(a).rejects.toMatchObject({ code: 'OUTPOST_OUTBOX_WRITE_FAILED' })
    expect(await append(commits, 2)).toBe(1)
    expect(batches).toEqual([[1], [2]])
  })

  test('flush resolves once everything handed over is written; idle once no write runs', async () => {
    const { target } = recordingTarget(10)
    const commits = new GroupCommit(target)
    let done = 0
    for (let i = 1; i <= 3; i++) void append(commits, i).then(() => done++)
    await commits.flush()
    expect(done).toBe(3)
    await commits.idle()
  })

  test('fail() refuses what was not told yet and counts its records', () => {
    const { target } = recordingTarget(1)
    const commits = new GroupCommit(target)
    const outcomes: string[] = []
    const p1 = pendingAppend([rec(1), rec(2)], (err) => outcomes.push(err ? err.code : 'ok'))
    const p2 = pendingAppend([rec(3)], (err) => outcomes.push(err ? err.code : 'ok'))
    p2.settled = true
    expect(commits.fail([p1, p2], new OutboxError('OUTPOST_OUTBOX_CLOSED', 'closed'))).toBe(2)
    expect(outcomes).toEqual(['OUTPOST_OUTBOX_CLOSED'])
  })
})

describe('appends made from an appender callback', () => {
  test('an append made inside the callback of the last batch is written, with nothing else to wake the writer', async () => {
    const { target, batches } = recordingTarget(2)
    const commits = new GroupCommit(target)
    const second = new Promise<number>((resolve, reject) => {
      commits.add(
        pendingAppend([rec(1)], () => {
          // The appender answers at once (aedes reads the next packet inside the callback).
          commits.add(pendingAppend([rec(2)], (err, first) => (err ? reject(err) : resolve(first))))
        }),
      )
    })
    const outcome = await Promise.race([second, new Promise((r) => setTimeout(() => r('stranded'), 2_000))])
    expect(outcome).toBe(2)
    expect(batches).toEqual([[1], [2]])
  })
})
