// What test/fixtures/outbox-appender.mjs acknowledged, and the check of an outbox against it, for the
// crash and power-loss suites. The child prints `ready`, then one line per record once its append
// resolved: `<seq> <topic> <sha256 of the payload>`. Topics are `crash/<pid>/<writer>/<n>/<i>`, payloads
// are random bytes followed by their SHA-256.
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { NO_DISK_GUARD, readAll } from './outbox.js'

export const APPENDER = fileURLToPath(new URL('../fixtures/outbox-appender.mjs', import.meta.url))

interface Printed {
  topic: string
  digest: string
  run: number
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest()

/** Payload = body + SHA-256(body): tells whether the stored bytes are exactly what the child wrote. */
function selfCheckOk(payload: Uint8Array): boolean {
  const buf = Buffer.from(payload)
  if (buf.length < 32) return false
  return sha256(buf.subarray(0, buf.length - 32)).equals(buf.subarray(buf.length - 32))
}

export class AppenderLog {
  /** Every acknowledged record so far, by seq. */
  readonly printed = new Map<number, Printed>()
  /** lastSeq of the outbox at the last verify(). */
  lastSeq = 0

  /** Takes the lines one run of the child printed. `where` names the run in failure messages. */
  take(lines: readonly string[], run: number, where: string): void {
    expect(lines[0], `${where}: first line`).toBe('ready')
    for (const line of lines.slice(1)) {
      const [seqText, topic, digest] = line.split(' ')
      const seq = Number(seqText)
      expect(
        Number.isInteger(seq) && topic && digest,
        `${where}: bad line ${JSON.stringify(line)}`,
      ).toBeTruthy()
      expect(seq, `${where}: seq ${seq} reused (last verified ${this.lastSeq})`).toBeGreaterThan(this.lastSeq)
      expect(this.printed.has(seq), `${where}: seq ${seq} printed twice`).toBe(false)
      this.printed.set(seq, { topic: topic as string, digest: digest as string, run })
    }
  }

  /**
   * Reopens the outbox in `dir` and checks the whole log against everything printed so far: every
   * acknowledged record there and intact, no gaps, no torn append, never shorter than at the last
   * verify. Returns lastSeq.
   */
  async verify(dir: string, where: string): Promise<number> {
    const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
    try {
      const all = await readAll(outbox)
      expect(outbox.firstSeq, `${where}: firstSeq`).toBe(1)
      expect(outbox.lastSeq, `${where}: lastSeq vs records read`).toBe(all.length)
      expect(outbox.lastSeq, `${where}: the log shrank`).toBeGreaterThanOrEqual(this.lastSeq)

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

      const missing = [...this.printed.keys()].filter((seq) => all[seq - 1] === undefined)
      expect(missing, `${where}: acknowledged records missing (of ${this.printed.size})`).toEqual([])
      for (const [seq, p] of this.printed) {
        const r = all[seq - 1] as StoredRecord
        expect(r.topic, `${where}: seq ${seq} holds another record`).toBe(p.topic)
        expect(sha256(r.payload).toString('hex'), `${where}: seq ${seq} payload differs`).toBe(p.digest)
      }
      this.lastSeq = outbox.lastSeq
      return outbox.lastSeq
    } finally {
      await outbox.close()
    }
  }
}
