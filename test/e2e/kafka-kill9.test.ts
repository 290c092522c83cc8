// Issue #8 "Done when": kill -9 of the gateway while it forwards to Kafka, then a restart — nothing
// acknowledged is lost; the copies sent twice are at most one window (maxInflight: the batch in flight
// when the process died) and carry the same identity (outpost-gateway, outpost-seq headers) and content.
// Against the shared broker (KAFKA_BROKERS): this test takes the gateway away, not the cluster.
import { afterAll, describe, expect, it } from 'vitest'
import { deadline } from '../helpers/deadline.js'
import { publishReadings } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { createTopic, haveKafka, haveKcat, kafkaBrokers, kcatConsume } from '../helpers/kafka.js'
import {
  checkKafkaDelivery,
  deviceRoute,
  kafkaStatus,
  kafkaUpstream,
  startKafkaGateway,
  waitForDrained,
  waitForStatus,
} from '../helpers/kafka-e2e.js'
import { tempDir } from '../helpers/tmp.js'

const WINDOW = 500
const READINGS = 20_000

describe.runIf(haveKafka() && haveKcat())('Kafka upstream: kill -9 of the gateway', () => {
  const gateways: GatewayProcess[] = []
  afterAll(async () => {
    for (const g of gateways) await g.kill9()
  })

  it('during forwarding, a kill -9 loses nothing; duplicates stay within the window and carry their identity', async (ctx) => {
    const time = deadline(ctx)
    const topic = await createTopic(3)
    // A paced drain (4,000 records/s, batches of WINDOW), so the kill lands in its middle; status
    // polled every 10 ms for the moment a batch is in flight.
    const upstream = kafkaUpstream(kafkaBrokers(), { maxInflight: WINDOW, maxRatePerSec: 4000 })
    const first = await startKafkaGateway(tempDir(), [upstream], [deviceRoute(['lake'], topic)])
    gateways.push(first)
    const acked = (await publishReadings(first.url, 10, READINGS / 10, { inflight: 50 })).flat()
    expect(acked).toHaveLength(READINGS)

    const published = kafkaStatus(await first.status()).position
    const cut = Math.min(READINGS - 3 * WINDOW, published + 1000 + Math.floor(Math.random() * 4000))
    const before = await waitForStatus(
      first,
      // With a batch in flight: sent, its acknowledgement not yet in.
      (s) => kafkaStatus(s).position >= cut && kafkaStatus(s).inflight > 0,
      time.left(30_000),
      `the cursor past ${cut} and a batch in flight`,
      10,
    )
    await first.kill9()
    const killedAt = kafkaStatus(before).position
    expect(killedAt).toBeLessThan(READINGS)

    const restarted = await GatewayProcess.startFile(first.configFile)
    gateways.push(restarted)
    const resumed = kafkaStatus(await restarted.status()).position
    expect(resumed).toBeGreaterThanOrEqual(killedAt)
    await waitForDrained(restarted, time.left(30_000))

    const seen = await kcatConsume(topic, time.left(30_000))
    const delivery = checkKafkaDelivery(seen, acked)
    expect(delivery.problems).toEqual([])
    expect(delivery.missing).toEqual([])
    expect(delivery.unique).toBe(READINGS)
    console.log(
      `kill -9 with the cursor at ${killedAt} (resumed at ${resumed}): ${delivery.duplicates} duplicates (window ${WINDOW})`,
    )
    expect(delivery.duplicates).toBeLessThanOrEqual(WINDOW)
    // The identity of every record: this gateway, and each outbox sequence number 1…READINGS.
    const seqs = new Set(seen.map((r) => Number(r.headers.find(([k]) => k === 'outpost-seq')?.[1])))
    expect(seqs).toEqual(new Set(Array.from({ length: READINGS }, (_, i) => i + 1)))
    expect(seen.every((r) => r.headers.some(([k, v]) => k === 'outpost-gateway' && v === 'gw-test'))).toBe(
      true,
    )
    expect(await restarted.stop()).toBe(0)
  }, 120_000)
})
