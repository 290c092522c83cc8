// Issue #8 "Done when": one record the cluster will never take — larger than the topic's
// max.message.bytes — goes to the dead letters (reason too-large), visible in /api/status while the
// gateway runs and in `outpost outbox peek --dead` once it is stopped; every other reading keeps
// flowing, each device's in order. Against the shared broker (KAFKA_BROKERS), on a topic of its own.
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.js'
import { deadline } from '../helpers/deadline.js'
import { publishReadings, readingTopic } from '../helpers/e2e.js'
import type { GatewayProcess } from '../helpers/gateway-process.js'
import { createTopic, haveKafka, haveKcat, kafkaBrokers, kcatConsume } from '../helpers/kafka.js'
import {
  checkKafkaDelivery,
  deviceRoute,
  KAFKA_UPSTREAM,
  kafkaStatus,
  kafkaUpstream,
  startKafkaGateway,
  waitForDrained,
} from '../helpers/kafka-e2e.js'
import { tempDir } from '../helpers/tmp.js'

const MAX_MESSAGE_BYTES = 8000
const WINDOW = 200

describe.runIf(haveKafka() && haveKcat())('Kafka upstream: a record the cluster refuses for good', () => {
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
  })

  it('an oversized reading is dead-lettered as too-large (status, outbox peek --dead); the rest arrive in order', async (ctx) => {
    const time = deadline(ctx)
    const topic = await createTopic(3, { configs: { 'max.message.bytes': String(MAX_MESSAGE_BYTES) } })
    const dir = tempDir()
    const g = await startKafkaGateway(
      dir,
      [kafkaUpstream(kafkaBrokers(), { maxInflight: WINDOW })],
      [deviceRoute([KAFKA_UPSTREAM], topic)],
    )
    gateways.push(g)

    // 5 devices × 1,000 readings, and from device 2, amid its own, one reading of 20 kB.
    const big = Buffer.alloc(20_000, 'x')
    const oversized = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 300))
      const device = await connectAsync(g.url, { clientId: `dev-2-big-${process.pid}`, reconnectPeriod: 0 })
      await device.publishAsync(readingTopic(2), big, { qos: 1 })
      await device.endAsync()
    })()
    const acked = (await publishReadings(g.url, 5, 1000, { inflight: 10, pauseMs: 1 })).flat()
    await oversized
    expect(acked).toHaveLength(5000)

    const status = await waitForDrained(g, time.left(30_000))
    const lake = kafkaStatus(status)
    expect(lake.deadLetters).toEqual({ 'too-large': 1 })
    expect(lake.failures.permanent).toBeGreaterThanOrEqual(1)
    expect(status.outbox.deadLetters.totals).toEqual([
      { upstream: KAFKA_UPSTREAM, reason: 'too-large', count: 1 },
    ])

    const seen = await kcatConsume(topic, time.left(30_000))
    const delivery = checkKafkaDelivery(seen, acked)
    expect(delivery.problems).toEqual([])
    expect(delivery.missing).toEqual([])
    expect(delivery.unique).toBe(5000)
    console.log(`one oversized reading dead-lettered among 5,000: ${delivery.duplicates} duplicates`)
    // The records of the other partitions in the refused batch were appended once: none goes twice.
    expect(delivery.duplicates).toBe(0)
    expect(seen.every((r) => r.value.length < MAX_MESSAGE_BYTES)).toBe(true)

    expect(await g.stop()).toBe(0)
    const peek = await runCli(['outbox', 'peek', '--dead', '--data-dir', join(dir, 'data'), '--json'])
    expect(peek.code).toBe(0)
    const letters = peek.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            upstream: string
            reason: string
            detail: string
            record: { topic: string; payloadBase64: string }
          },
      )
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({
      upstream: KAFKA_UPSTREAM,
      reason: 'too-large',
      detail: expect.stringMatching(/^Kafka (MESSAGE|RECORD_LIST)_TOO_LARGE$/),
      record: { topic: readingTopic(2), payloadBase64: big.toString('base64') },
    })
  }, 90_000)
})
