// The batches a Kafka forwarder sends (gateway/forward/kafka-batch-reader.ts), from a real outbox: in
// order after a position, bounded by maxRecords, what is not routed here passed over and what has an
// illegal Kafka topic set aside — without writing anything (a batch read ahead and dropped leaves no
// trace) — and a batch read ahead handed out for its position only.
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { KafkaBatchReader } from '../../../gateway/forward/kafka-batch-reader.js'
import { Outbox } from '../../../store/outbox.js'
import { NO_DISK_GUARD, rec } from '../../helpers/outbox.js'
import { tempDir } from '../../helpers/tmp.js'

const open: Outbox[] = []
afterEach(async () => {
  for (const o of open.splice(0)) await o.close()
})

async function outboxWith(n: number, to: (i: number) => ReturnType<typeof rec>['to']): Promise<Outbox> {
  const outbox = await Outbox.open({ dir: join(tempDir('outpost-batches-'), 'data'), ...NO_DISK_GUARD })
  open.push(outbox)
  await outbox.append(Array.from({ length: n }, (_, k) => rec(k + 1, { to: to(k + 1) })))
  return outbox
}

function reader(outbox: Outbox, maxRecords = 4) {
  return new KafkaBatchReader({
    outbox,
    upstream: 'lake',
    gatewayId: Buffer.from('gw'),
    maxRecords,
    maxBytes: 2 ** 20,
    lingerMs: 0,
  })
}

const stop = new AbortController().signal
const seqs = (batch: Awaited<ReturnType<KafkaBatchReader['next']>>) => batch?.items.map((i) => i.record.seq)

describe('KafkaBatchReader', () => {
  test('batches of maxRecords after the position, in order, each with its last sequence number', async () => {
    const outbox = await outboxWith(10, () => [{ upstream: 'lake', topic: 'telemetry', key: 'k' }])
    const batches = reader(outbox)
    const first = await batches.next(0, stop)
    expect(seqs(first)).toEqual([1, 2, 3, 4])
    expect(first?.last).toBe(4)
    expect(seqs(await batches.next(4, stop))).toEqual([5, 6, 7, 8])
    expect(seqs(await batches.next(8, stop))).toEqual([9, 10])
  })

  test('records for other upstreams are counted as passed over; illegal topics are set aside, nothing written', async () => {
    const outbox = await outboxWith(6, (i) =>
      i % 3 === 0
        ? [{ upstream: 'cloud', topic: 'a/b', key: undefined }]
        : [{ upstream: 'lake', topic: i === 2 ? 'tele/metry' : 'telemetry', key: 'k' }],
    )
    const batch = await reader(outbox, 10).next(0, stop)
    expect(seqs(batch)).toEqual([1, 4, 5])
    expect(batch?.skipped).toBe(2)
    expect(batch?.illegal.map((b) => [b.record.seq, b.detail])).toEqual([
      [2, expect.stringMatching(/^topic "tele\/metry": a Kafka topic name has only letters/)],
    ])
    expect(batch?.last).toBe(6)
    expect(outbox.deadLetters.stats().messages).toBe(0)
  })

  test('a batch read ahead is handed out for its position only; for another one the reader reads afresh', async () => {
    const outbox = await outboxWith(8, () => [{ upstream: 'lake', topic: 'telemetry', key: 'k' }])
    const batches = reader(outbox)
    batches.readAhead(4, stop)
    expect(seqs(await batches.next(4, stop))).toEqual([5, 6, 7, 8])
    batches.readAhead(4, stop)
    expect(seqs(await batches.next(2, stop))).toEqual([3, 4, 5, 6])
  })

  test('the messages of one device share the bytes of its key', async () => {
    const outbox = await outboxWith(2, () => [{ upstream: 'lake', topic: 'telemetry', key: 'dev-1' }])
    const batch = await reader(outbox).next(0, stop)
    const [a, b] = batch?.items ?? []
    expect(a?.message.key?.toString()).toBe('dev-1')
    expect(a?.message.key).toBe(b?.message.key)
  })
})
