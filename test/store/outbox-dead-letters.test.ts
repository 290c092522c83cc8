// Dead letters: a record an upstream will never take is moved out of its way with the reason, listed,
// counted per upstream and reason, requeued (for that upstream only) or purged, bounded in bytes, and
// kept across a reopen.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { Outbox, type OutboxOptions } from '../../store/outbox.js'
import { expectOutboxError, NO_DISK_GUARD, payloadsOf, readAll, rec } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const opened: Outbox[] = []
async function open(dir: string, options: Partial<OutboxOptions> = {}): Promise<Outbox> {
  const outbox = await Outbox.open({ dir, ...NO_DISK_GUARD, ...options })
  opened.push(outbox)
  return outbox
}
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close()
})

describe('dead letters', () => {
  test('a dead letter is listed with its reason and record, counted, and kept across a reopen', async () => {
    const dir = join(tempDir(), 'data')
    const outbox = await open(dir)
    outbox.cursor('cloud')
    outbox.cursor('lake')
    await outbox.append([rec(1), rec(2, { retain: true }), rec(3)])
    const [, second] = await readAll(outbox)
    if (!second) throw new Error('no record 2')
    await outbox.deadLetters.add('cloud', second, 'not-authorized', 'PUBACK 0x87')
    await outbox.commit('cloud', 3)

    const listed = await outbox.deadLetters.list()
    expect(listed).toHaveLength(1)
    expect(listed[0]).toMatchObject({
      id: 1,
      upstream: 'cloud',
      reason: 'not-authorized',
      detail: 'PUBACK 0x87',
    })
    expect(listed[0]?.record).toMatchObject({ seq: 2, topic: second.topic, retain: true, ts: second.ts })
    expect(Buffer.from(listed[0]?.record.payload ?? []).toString()).toBe('msg-2')
    const stats = (await outbox.stats()).deadLetters
    expect(stats).toMatchObject({
      messages: 1,
      totals: [{ upstream: 'cloud', reason: 'not-authorized', count: 1 }],
    })
    expect(stats.bytes).toBeGreaterThan(0)

    await outbox.close()
    const again = await open(dir)
    expect(await again.deadLetters.list()).toHaveLength(1)
    expect((await again.stats()).deadLetters).toMatchObject({ messages: 1, bytes: stats.bytes })
  })

  test('a dead letter outlives its record in the log (retention below every cursor)', async () => {
    const outbox = await open(join(tempDir(), 'data'))
    outbox.cursor('cloud')
    await outbox.append([rec(1), rec(2)])
    const [first] = await readAll(outbox)
    if (!first) throw new Error('no record 1')
    await outbox.deadLetters.add('cloud', first, 'bad-topic')
    await outbox.commit('cloud', 2)
    await outbox.flush()
    expect(outbox.firstSeq).toBe(3) // both records retained away
    const [d] = await outbox.deadLetters.list()
    expect(payloadsOf(d ? [d.record] : [])).toEqual(['msg-1'])
  })

  test('requeue appends the record again for its upstream only, with its topic there, and deletes the dead letter', async () => {
    const outbox = await open(join(tempDir(), 'data'))
    outbox.cursor('cloud')
    outbox.cursor('lake')
    const to = [
      { upstream: 'cloud', topic: 'sites/pi/t', key: undefined },
      { upstream: 'lake', topic: undefined, key: 'k1' },
    ]
    await outbox.append([rec(1, { to }), rec(2, { to })])
    const [r1] = await readAll(outbox)
    if (!r1) throw new Error('no record 1')
    await outbox.deadLetters.add('cloud', r1, 'refused', 'PUBACK 0x83')
    await outbox.commit('cloud', 2)

    expect(await outbox.deadLetters.requeue({ upstream: 'cloud' })).toBe(1)
    const all = await readAll(outbox, 2)
    expect(all).toHaveLength(1)
    expect(all[0]).toMatchObject({
      seq: 3,
      topic: r1.topic,
      ts: r1.ts,
      to: [{ upstream: 'cloud', topic: 'sites/pi/t' }],
    })
    expect(await outbox.deadLetters.list()).toEqual([])
    expect((await outbox.stats()).deadLetters).toMatchObject({ messages: 0, bytes: 0, requeued: 1 })
  })

  test('requeue refused by a full outbox (reject) keeps the dead letters', async () => {
    const outbox = await open(join(tempDir(), 'data'), { maxMessages: 2 })
    outbox.cursor('cloud')
    await outbox.append([rec(1), rec(2)])
    const [r1] = await readAll(outbox)
    if (!r1) throw new Error('no record 1')
    await outbox.deadLetters.add('cloud', r1, 'too-large')
    await expectOutboxError(outbox.deadLetters.requeue(), 'OUTPOST_OUTBOX_FULL')
    expect(await outbox.deadLetters.list()).toHaveLength(1)
    expect((await outbox.stats()).deadLetters).toMatchObject({ messages: 1, requeued: 0 })
  })

  test('purge deletes the matching dead letters and counts them', async () => {
    const outbox = await open(join(tempDir(), 'data'))
    outbox.cursor('cloud')
    outbox.cursor('lake')
    await outbox.append([rec(1), rec(2), rec(3)])
    const records = await readAll(outbox)
    for (const r of records)
      await outbox.deadLetters.add(r.seq === 2 ? 'lake' : 'cloud', r, 'upstream-disconnect')
    expect(await outbox.deadLetters.purge({ upstream: 'cloud' })).toBe(2)
    const left = await outbox.deadLetters.list()
    expect(left.map((d) => [d.upstream, d.record.seq])).toEqual([['lake', 2]])
    expect((await outbox.stats()).deadLetters).toMatchObject({ messages: 1, purged: 2 })
  })

  test('over deadLetterMaxBytes the oldest dead letters are evicted and counted', async () => {
    const outbox = await open(join(tempDir(), 'data'), { deadLetterMaxBytes: 2_000 })
    outbox.cursor('cloud')
    const payload = Buffer.alloc(300, 0x61)
    await outbox.append(Array.from({ length: 20 }, (_, i) => rec(i + 1, { payload })))
    for (const r of await readAll(outbox)) await outbox.deadLetters.add('cloud', r, 'too-large')
    const stats = (await outbox.stats()).deadLetters
    expect(stats.bytes).toBeLessThanOrEqual(2_000)
    expect(stats.evicted).toBe(20 - stats.messages)
    expect(stats.messages).toBeGreaterThan(0)
    const left = await outbox.deadLetters.list()
    expect(left.map((d) => d.record.seq)).toEqual(
      Array.from({ length: stats.messages }, (_, i) => 21 - stats.messages + i),
    )
    expect(stats.totals).toEqual([{ upstream: 'cloud', reason: 'too-large', count: 20 }])
  })

  test('a closed outbox refuses a dead letter', async () => {
    const outbox = await open(join(tempDir(), 'data'))
    outbox.cursor('cloud')
    await outbox.append([rec(1)])
    const [r1] = await readAll(outbox)
    await outbox.close()
    if (!r1) throw new Error('no record 1')
    await expectOutboxError(outbox.deadLetters.add('cloud', r1, 'bad-topic'), 'OUTPOST_OUTBOX_CLOSED')
  })
})
