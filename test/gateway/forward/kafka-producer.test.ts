// The Kafka producer layer against a real Apache Kafka broker (scripts/kafka/start.sh), read back by
// Debian's kcat (librdkafka) as an independent consumer and by @platformatic/kafka's consumer (issue #8):
// per-key order across partitions, identity headers, ingest timestamps, Java's partitions, the
// broker's own refusals classified, and the bytes each codec puts on the wire.
import { execFile } from 'node:child_process'
import net from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { isLegalKafkaTopic } from '../../../config/kafka-topic.js'
import { configSchema, type KafkaUpstreamConfig } from '../../../config/schema.js'
import { classifyKafkaError, type KafkaFailure } from '../../../gateway/forward/kafka-errors.js'
import { type KafkaMessage, toKafkaMessage } from '../../../gateway/forward/kafka-message.js'
import { javaPartitionForKey } from '../../../gateway/forward/kafka-partitioner.js'
import {
  createKafkaProducer,
  type KafkaProducer,
  type KafkaProducerSettings,
  supportedCompressions,
} from '../../../gateway/forward/kafka-producer.js'
import type { StoredRecord } from '../../../store/record-codec.js'
import {
  consumeAll,
  createTopic,
  haveKafka,
  haveKafkaSasl,
  haveKcat,
  KAFKA_SASL_USER,
  kafkaBrokers,
  kafkaSaslBrokers,
  kcatConsume,
  uniqueTopic,
  waitForCount,
} from '../../helpers/kafka.js'

const GATEWAY = 'pi-kitchen'
const SETTINGS: KafkaProducerSettings = { gatewayId: GATEWAY, retries: 2, retryDelayMs: 100 }

function upstream(extra: Record<string, unknown> = {}, brokers = kafkaBrokers()): KafkaUpstreamConfig {
  const config = configSchema.parse({
    gatewayId: GATEWAY,
    upstreams: [{ name: 'lake', type: 'kafka', brokers, ...extra }],
    routes: [{ match: 'sensors/#', to: ['lake'], topic: 'telemetry' }],
  })
  return config.upstreams[0] as KafkaUpstreamConfig
}

const producers: KafkaProducer[] = []
function producer(
  extra: Record<string, unknown> = {},
  brokers?: string[],
  settings = SETTINGS,
): KafkaProducer {
  const p = createKafkaProducer(upstream(extra, brokers), settings)
  producers.push(p)
  return p
}

afterEach(async () => {
  await Promise.all(producers.splice(0).map((p) => p.close(true)))
})

/** A reading from `device` as the outbox stores it, routed to the upstream "lake". */
function reading(seq: number, device: string, topic: string, payload?: string): StoredRecord {
  return {
    seq,
    topic: `sensors/${device}/telemetry`,
    payload: Buffer.from(
      payload ?? JSON.stringify({ device, seq, t: 20 + (seq % 7) / 10, rh: 40 + (seq % 13) }),
    ),
    qos: 1,
    retain: false,
    ts: Date.UTC(2026, 0, 2, 3, 4, 5) + seq * 1000,
    origin: device,
    to: [{ upstream: 'lake', topic, key: device }],
    size: 0,
    offset: 0,
  }
}

function messages(records: StoredRecord[]): KafkaMessage[] {
  const gw = Buffer.from(GATEWAY)
  return records.map((r) => toKafkaMessage(r, 'lake', gw) as KafkaMessage)
}

async function failureOf(p: Promise<unknown>): Promise<KafkaFailure> {
  try {
    await p
  } catch (err) {
    return classifyKafkaError(err)
  }
  throw new Error('the send succeeded')
}

const devices = Array.from({ length: 8 }, (_, i) => `device-${i + 1}`)

describe.skipIf(!(haveKafka() && haveKcat()))('a real broker', () => {
  test('keyed records across 3 partitions: each key in its Java partition, in outbox order, with the identity headers and the ingest time (kcat and the library consumer agree)', async () => {
    const topic = await createTopic(3)
    // 200 readings, the devices interleaved as they arrive at a gateway, sent in four batches.
    const records = Array.from({ length: 200 }, (_, i) =>
      reading(i + 1, devices[(i * 5 + (i >> 3)) % 8] as string, topic),
    )
    const p = producer()
    for (let i = 0; i < records.length; i += 50)
      await p.send({ messages: messages(records.slice(i, i + 50)) })

    const seen = await waitForCount(() => kcatConsume(topic), records.length)
    expect(seen).toHaveLength(records.length)
    const bySeq = new Map(records.map((r) => [r.seq, r]))
    for (const m of seen) {
      const seq = Number(m.headers.find(([k]) => k === 'outpost-seq')?.[1])
      const r = bySeq.get(seq) as StoredRecord
      expect(m.key).toBe(r.origin)
      expect(m.value).toBe(r.payload.toString())
      expect(m.timestamp).toBe(r.ts)
      expect(m.headers).toEqual([
        ['outpost-gateway', GATEWAY],
        ['outpost-seq', String(r.seq)],
        ['outpost-topic', r.topic],
        ['outpost-origin', r.origin],
      ])
      expect(m.partition).toBe(javaPartitionForKey(Buffer.from(r.origin), 3))
    }
    // Per key: one partition, and the outbox order (seq ascending) is the offset order.
    for (const device of devices) {
      const mine = seen.filter((m) => m.key === device)
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1)
      const seqs = mine.map((m) => Number(m.headers[1]?.[1]))
      expect(seqs).toEqual(records.filter((r) => r.origin === device).map((r) => r.seq))
    }
    expect(new Set(seen.map((m) => m.partition))).toEqual(new Set([0, 1, 2]))

    expect(await consumeAll(topic, records.length)).toEqual(seen)
  })

  test("librdkafka's murmur2 partitioner (kcat) puts every key where ours does", async () => {
    const topic = await createTopic(3)
    const keys = [...devices, '21', 'foobar', 'abc', 'a-little-bit-longer-string', 'été']
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        'kcat',
        [
          '-P',
          '-b',
          kafkaBrokers().join(','),
          '-t',
          topic,
          '-K',
          '\t',
          '-X',
          'topic.partitioner=murmur2_random',
        ],
        { timeout: 20_000 },
        (err) => (err ? reject(err) : resolve()),
      )
      child.stdin?.end(keys.map((k) => `${k}\tfrom kcat`).join('\n'))
    })
    const seen = await waitForCount(() => kcatConsume(topic), keys.length)
    const librdkafka = Object.fromEntries(seen.map((m) => [m.key, m.partition]))
    const ours = Object.fromEntries(keys.map((k) => [k, javaPartitionForKey(Buffer.from(k), 3)]))
    expect(librdkafka).toEqual(ours)
  })

  test("records without a key all land in the gateway id's partition, in outbox order", async () => {
    const topic = await createTopic(3)
    const records = Array.from({ length: 30 }, (_, i) => {
      const r = reading(i + 1, devices[i % 8] as string, topic)
      return { ...r, to: [{ upstream: 'lake', topic }] }
    })
    await producer().send({ messages: messages(records) })
    const seen = await waitForCount(() => kcatConsume(topic), records.length)
    expect(new Set(seen.map((m) => m.partition))).toEqual(
      new Set([javaPartitionForKey(Buffer.from(GATEWAY), 3)]),
    )
    expect(seen.map((m) => m.key)).toEqual(records.map(() => undefined))
    expect(seen.map((m) => Number(m.headers[1]?.[1]))).toEqual(records.map((r) => r.seq))
  })

  test('acks: leader is a plain producer: at least once, duplicates told apart by outpost-seq', async () => {
    const topic = await createTopic(3)
    const p = producer({ acks: 'leader' })
    await p.send({ messages: messages(devices.map((d, i) => reading(i + 1, d, topic))) })
    expect(p.producerId).toBeUndefined()
    const seen = await waitForCount(() => kcatConsume(topic), devices.length)
    // Without idempotence a retried request (one partition failed, the others were written) writes
    // those partitions again; the identity header is what the cloud side drops duplicates by.
    const bySeq = new Map(seen.map((m) => [Number(m.headers[1]?.[1]), m]))
    expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(devices.map((_, i) => i + 1))
    for (const [seq, m] of bySeq) {
      expect(m.partition).toBe(javaPartitionForKey(Buffer.from(devices[seq - 1] as string), 3))
    }
  })

  test('the default producer is idempotent: the broker gave it a producer id', async () => {
    const topic = await createTopic(1)
    const p = producer()
    await p.send({ messages: messages([reading(1, 'device-1', topic)]) })
    expect(typeof p.producerId).toBe('bigint')
    expect(p.producerId).toBeGreaterThanOrEqual(0n)
  })

  test('a record over the topic\'s max.message.bytes is permanent ("too-large"); the producer then goes on', async () => {
    const topic = await createTopic(1, { configs: { 'max.message.bytes': '2048' } })
    const p = producer()
    const big = reading(1, 'device-1', topic, 'x'.repeat(8192))
    const failure = await failureOf(p.send({ messages: messages([big]) }))
    expect(failure).toMatchObject({ kind: 'permanent', code: 'MESSAGE_TOO_LARGE', reason: 'too-large' })

    // The idempotent sequence is intact: the next records are taken.
    await p.send({ messages: messages([reading(2, 'device-1', topic), reading(3, 'device-1', topic)]) })
    const seen = await waitForCount(() => kcatConsume(topic), 2)
    expect(seen.map((m) => m.headers[1]?.[1])).toEqual(['2', '3'])
  })

  test('topic names: the broker takes exactly what isLegalKafkaTopic accepts; its refusal is permanent ("topic-invalid")', async () => {
    const p = producer()
    const unique = uniqueTopic('n')
    const names = [
      `${unique}-${'x'.repeat(249 - unique.length - 1)}`, // 249 characters
      `${unique}-${'x'.repeat(250 - unique.length - 1)}`, // 250
      `sensors/${unique}/telemetry`,
      `${unique} with spaces`,
      '..',
    ]
    for (const name of names) {
      const sent = p.send({ messages: messages([reading(1, 'device-1', name)]) })
      if (isLegalKafkaTopic(name)) {
        await sent
      } else {
        expect(await failureOf(sent), name).toMatchObject({
          kind: 'permanent',
          code: 'INVALID_TOPIC_EXCEPTION',
          reason: 'topic-invalid',
        })
      }
    }
    expect(names.map(isLegalKafkaTopic)).toEqual([true, false, false, false, false])
  })

  test('bytes on the wire per record for each codec: compressed batches are smaller and kcat reads them all', async () => {
    const report: Record<string, Record<string, number>> = {}
    for (const compression of supportedCompressions()) {
      const topic = await createTopic(1)
      const p = producer({ compression })
      let seq = 0
      const batch = (n: number) =>
        messages(Array.from({ length: n }, () => reading(++seq, devices[seq % 8] as string, topic)))
      await p.send({ messages: batch(1) }) // connections, metadata and the producer id first
      report[compression] = {}
      for (const size of [1, 10, 100]) {
        const before = bytesWritten(p)
        await p.send({ messages: batch(size) })
        ;(report[compression] as Record<string, number>)[`batch${size}`] = Math.round(
          (bytesWritten(p) - before) / size,
        )
      }
      const seen = await waitForCount(() => kcatConsume(topic), seq)
      expect(seen).toHaveLength(seq)
    }
    console.info(`kafka bytes on the wire per record (produce requests): ${JSON.stringify(report)}`)
    const none = report.none?.batch100 as number
    for (const codec of supportedCompressions().filter((c) => c !== 'none')) {
      expect(report[codec]?.batch100, codec).toBeLessThan(none)
    }
  })
})

describe.skipIf(!(haveKafka() && haveKafkaSasl() && haveKcat()))('a real broker over SASL', () => {
  test.each(['plain', 'scram-sha-256', 'scram-sha-512'])(
    'sasl %s: the producer authenticates and its records arrive',
    async (mechanism) => {
      const topic = await createTopic(1)
      const p = producer({ sasl: { mechanism, ...KAFKA_SASL_USER } }, kafkaSaslBrokers())
      await p.send({ messages: messages([reading(1, 'device-1', topic), reading(2, 'device-2', topic)]) })
      const seen = await waitForCount(() => kcatConsume(topic), 2)
      expect(seen.map((m) => m.key)).toEqual(['device-1', 'device-2'])
    },
  )

  test.each(['plain', 'scram-sha-512'])(
    'sasl %s with a wrong password: fatal for the producer, nothing dead-lettered',
    async (mechanism) => {
      const p = producer(
        { sasl: { mechanism, username: KAFKA_SASL_USER.username, password: 'wrong' } },
        kafkaSaslBrokers(),
      )
      const failure = await failureOf(p.send({ messages: messages([reading(1, 'device-1', 'telemetry')]) }))
      expect(failure.kind).toBe('fatal')
      expect(['SASL_AUTHENTICATION_FAILED', 'PLT_KFK_AUTHENTICATION']).toContain(failure.code)
    },
  )

  test('plaintext to the SASL listener is refused: the send fails, it is not a record problem', async () => {
    const p = producer({}, kafkaSaslBrokers(), { ...SETTINGS, requestTimeoutMs: 2000 })
    const failure = await failureOf(p.send({ messages: messages([reading(1, 'device-1', 'telemetry')]) }))
    expect(failure.kind).not.toBe('permanent')
  })
})

describe('no broker there', () => {
  test('nothing listening: the send fails retryable (a network error)', async () => {
    const port = await freePort()
    const p = producer({}, [`127.0.0.1:${port}`])
    expect(
      await failureOf(p.send({ messages: messages([reading(1, 'device-1', 'telemetry')]) })),
    ).toMatchObject({
      kind: 'retryable',
      code: 'PLT_KFK_NETWORK',
    })
  })

  test('a broker that takes the connection and never answers: the send times out, retryable', async () => {
    const silent = net.createServer(() => undefined)
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const sockets = new Set<net.Socket>()
    silent.on('connection', (s) => sockets.add(s))
    try {
      const { port } = silent.address() as net.AddressInfo
      const p = producer({}, [`127.0.0.1:${port}`], { ...SETTINGS, requestTimeoutMs: 300 })
      const started = Date.now()
      expect(
        await failureOf(p.send({ messages: messages([reading(1, 'device-1', 'telemetry')]) })),
      ).toMatchObject({
        kind: 'retryable',
        code: 'PLT_KFK_TIMEOUT',
      })
      expect(Date.now() - started).toBeLessThan(10_000)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})

/** TCP payload bytes the producer has written to the brokers so far. */
function bytesWritten(p: KafkaProducer): number {
  let n = 0
  for (const broker of p.currentMetadata?.brokers.values() ?? []) {
    n += p.connections.getEstablishedConnection(broker)?.socket.bytesWritten ?? 0
  }
  return n
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}
