// A produce call that fails for one partition still appends the others (gateway/forward/kafka-appended.ts),
// against the shared broker: which partitions appended is read from the failed send's error, kcat
// confirms it, and the library's idempotent sequence numbers do not count them — why the forwarder
// starts a new producer after such a failure (if this ever stops failing, the library counts them).
import { afterEach, describe, expect, test } from 'vitest'
import { configSchema, type KafkaUpstreamConfig } from '../../../config/schema.js'
import { appendedPartitions } from '../../../gateway/forward/kafka-appended.js'
import { classifyKafkaError } from '../../../gateway/forward/kafka-errors.js'
import { createKafkaProducer, type KafkaProducer } from '../../../gateway/forward/kafka-producer.js'
import { createTopic, haveKafka, haveKcat, kafkaBrokers, kcatConsume } from '../../helpers/kafka.js'

const producers: KafkaProducer[] = []
afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close(true)))
})

function producer(): KafkaProducer {
  const config = configSchema.parse({
    gatewayId: 'gw-appended',
    upstreams: [{ name: 'lake', type: 'kafka', brokers: kafkaBrokers() }],
    routes: [{ match: 'sensors/#', to: ['lake'], topic: 'telemetry' }],
  }).upstreams[0] as KafkaUpstreamConfig
  const p = createKafkaProducer(config, { gatewayId: 'gw-appended', retries: 2, retryDelayMs: 100 })
  producers.push(p)
  return p
}

/** Three records for each of partitions 0, 1 and 2; on partition 1 the second is over max.message.bytes. */
function batch(topic: string) {
  return [0, 1, 2].flatMap((partition) =>
    [0, 1, 2].map((i) => ({
      topic,
      partition,
      value: Buffer.alloc(partition === 1 && i === 1 ? 20_000 : 10, 0x61 + i),
    })),
  )
}

describe.skipIf(!(haveKafka() && haveKcat()))('a send refused for one partition', () => {
  test('appends the others: appendedPartitions names exactly those, and kcat finds their records only', async () => {
    const topic = await createTopic(3, { configs: { 'max.message.bytes': '8000' } })
    let error: unknown
    await producer()
      .send({ messages: batch(topic) })
      .catch((err: unknown) => {
        error = err
      })
    expect(classifyKafkaError(error)).toMatchObject({ kind: 'permanent', reason: 'too-large' })
    expect(appendedPartitions(error)).toEqual(new Set([`${topic}:0`, `${topic}:2`]))
    const seen = await kcatConsume(topic)
    expect(seen.map((r) => r.partition)).toEqual([0, 0, 0, 2, 2, 2])
  })

  test('the same producer then has its sequence numbers wrong for the appended partitions: OUT_OF_ORDER_SEQUENCE_NUMBER', async () => {
    const topic = await createTopic(3, { configs: { 'max.message.bytes': '8000' } })
    const p = producer()
    await expect(p.send({ messages: batch(topic) })).rejects.toBeDefined()
    let error: unknown
    await p
      .send({ messages: [{ topic, partition: 0, value: Buffer.from('next') }] })
      .catch((err: unknown) => {
        error = err
      })
    expect(classifyKafkaError(error)).toMatchObject({ kind: 'fatal', code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' })
  })

  test('a send that fails before any answer names no partition', () => {
    expect(appendedPartitions(new Error('connection refused'))).toEqual(new Set())
    expect(appendedPartitions(undefined)).toEqual(new Set())
  })
})
