// The contract every forwarder passes (DESIGN.md "Forward"; issue #8), parameterised by a real sink:
// it sends what is past its cursor, in outbox order, and moves the cursor over the contiguous settled
// prefix only; passes over records routed only to other upstreams; resumes after a restart (duplicates
// bounded by its window, recognisable by their identity); survives the sink going away and coming back
// without passing a record the sink has not taken; and never passes a refused record before it is in
// the dead letters. mqtt-forwarder.contract.test.ts and kafka-forwarder.contract.test.ts run it.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import type { Forwarder } from '../../../gateway/forward/forwarder.js'
import { Outbox } from '../../../store/outbox.js'
import type { OutboxRecord } from '../../../store/record-codec.js'
import { NO_DISK_GUARD } from '../../helpers/outbox.js'
import { tempDir } from '../../helpers/tmp.js'

/** The upstream the contract forwards to is always named "up". */
export const UPSTREAM = 'up'

export interface ContractSink {
  /** A forwarder of `outbox` to this sink (upstream "up"), not started. */
  forwarder(outbox: Outbox): Forwarder
  /** Sequence numbers of the records this sink received so far, in arrival order (copies included). */
  received(): Promise<number[]>
  /** Takes the sink away (unreachable, or not answering) and brings it back. */
  down(): Promise<void>
  up(): Promise<void>
  /** Record `i` as the sink would take it, and one it will refuse for good (e.g. too large, not authorized). */
  record(i: number): OutboxRecord
  refused(i: number): OutboxRecord
  /** How many records a forwarder may have sent beyond what it had committed (its window). */
  window: number
}

/** Registers the contract's tests; `sink()` makes a fresh sink per test, `close` tears it down. */
export function forwarderContract(
  kind: string,
  sink: () => Promise<ContractSink & { close(): Promise<void> }>,
  options: { timeoutMs?: number } = {},
): void {
  const timeoutMs = options.timeoutMs ?? 30_000
  const open: Array<{ close(): Promise<void> }> = []
  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close().catch(() => undefined)
  })

  async function setup() {
    const s = await sink()
    open.push(s)
    const outbox = await Outbox.open({ dir: join(tempDir('outpost-contract-'), 'data'), ...NO_DISK_GUARD })
    open.push(outbox)
    const running: Forwarder[] = []
    open.push({ close: () => Promise.all(running.map((f) => f.stop(5_000))).then(() => undefined) })
    const start = () => {
      const f = s.forwarder(outbox)
      running.push(f)
      f.start()
      return f
    }
    return { s, outbox, start }
  }

  /** Waits until `check` holds, polling; fails with `what` (and the last state) when the time is up. */
  async function until(check: () => boolean | Promise<boolean>, what: () => string, ms = timeoutMs - 5_000) {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  const firstCopies = (seqs: number[]) => seqs.filter((seq, i) => seqs.indexOf(seq) === i)

  /** What the sink received, once it has at least `count` distinct records (a sink may lag its broker's ack). */
  async function receivedAtLeast(s: ContractSink, count: number): Promise<number[]> {
    let got: number[] = []
    await until(
      async () => {
        got = await s.received().catch(() => [])
        return new Set(got).size >= count
      },
      () => `the sink has ${new Set(got).size} of ${count} records: ${firstCopies(got).join(',')}`,
    )
    return got
  }
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k)

  describe(`forwarder contract: ${kind}`, () => {
    test(
      'sends every record past its cursor, in order, and moves the cursor over what was acknowledged',
      async () => {
        const { s, outbox, start } = await setup()
        await outbox.append(range(1, 40).map((i) => s.record(i)))
        outbox.cursor(UPSTREAM)
        await outbox.commit(UPSTREAM, 10) // done with 1..10 before this forwarder started
        const f = start()
        await until(
          () => f.status().position === 40,
          () => `position ${f.status().position}`,
        )
        const got = await receivedAtLeast(s, 30)
        expect(firstCopies(got)).toEqual(range(11, 40))
        expect(got.filter((seq) => seq <= 10)).toEqual([])
        await outbox.flush()
        expect(outbox.cursor(UPSTREAM)).toBe(40)
      },
      timeoutMs,
    )

    test(
      'passes over records routed only to other upstreams without sending them',
      async () => {
        const { s, outbox, start } = await setup()
        const elsewhere = (i: number) => ({ ...s.record(i), to: [{ upstream: 'elsewhere' }] })
        await outbox.append(range(1, 20).map((i) => (i % 3 === 0 ? elsewhere(i) : s.record(i))))
        const f = start()
        await until(
          () => f.status().position === 20,
          () => `position ${f.status().position}`,
        )
        expect(firstCopies(await receivedAtLeast(s, 14))).toEqual(range(1, 20).filter((i) => i % 3 !== 0))
        expect(f.status().skipped).toBe(6)
      },
      timeoutMs,
    )

    test(
      'resumes from its cursor after a restart: everything arrives, duplicates bounded by its window',
      async () => {
        const { s, outbox, start } = await setup()
        await outbox.append(range(1, 300).map((i) => s.record(i)))
        const first = start()
        await until(
          () => first.status().position >= 30,
          () => `position ${first.status().position}`,
        )
        await first.stop(5_000)
        const committed = outbox.cursor(UPSTREAM)
        await outbox.append(range(301, 400).map((i) => s.record(i)))
        const second = start()
        await until(
          () => second.status().position === 400,
          () => `position ${second.status().position}`,
        )
        const got = await receivedAtLeast(s, 400)
        expect(firstCopies(got)).toEqual(range(1, 400))
        const copies = got.length - new Set(got).size
        expect(copies).toBeLessThanOrEqual(s.window)
        expect(got.filter((seq) => seq <= committed).length).toBe(committed) // nothing below the cursor again
      },
      timeoutMs,
    )

    test(
      'survives the sink going away and coming back, and never passes a record the sink has not taken',
      async () => {
        const { s, outbox, start } = await setup()
        await outbox.append(range(1, 20).map((i) => s.record(i)))
        const f = start()
        await until(
          () => f.status().position === 20,
          () => `position ${f.status().position}`,
        )
        await s.down()
        await outbox.append(range(21, 60).map((i) => s.record(i)))
        await new Promise((r) => setTimeout(r, 1_500))
        const received = new Set(await s.received().catch(() => [] as number[]))
        const position = f.status().position
        for (let seq = 21; seq <= position; seq++)
          expect(received.has(seq), `seq ${seq} passed unreceived`).toBe(true)
        await s.up()
        await until(
          () => f.status().position === 60,
          () => `position ${f.status().position}`,
        )
        expect(firstCopies(await receivedAtLeast(s, 60))).toEqual(range(1, 60))
      },
      timeoutMs,
    )

    test(
      'never passes a refused record before it is in the dead letters; the records behind it go on',
      async () => {
        const { s, outbox, start } = await setup()
        await outbox.append([
          ...range(1, 4).map((i) => s.record(i)),
          s.refused(5),
          ...range(6, 12).map((i) => s.record(i)),
        ])
        const f = start()
        await until(
          () => f.status().position === 12,
          () => `position ${f.status().position}`,
        )
        const dead = await outbox.deadLetters.list({ upstream: UPSTREAM })
        expect(dead.map((d) => d.record.seq)).toEqual([5])
        expect(firstCopies(await receivedAtLeast(s, 11)).filter((seq) => seq !== 5)).toEqual([
          ...range(1, 4),
          ...range(6, 12),
        ])
        expect(Object.values(f.status().deadLetters).reduce((a, b) => a + (b ?? 0), 0)).toBe(1)
      },
      timeoutMs,
    )
  })
}
