// The forwarder contract (forwarder-contract.ts) for the Kafka forwarder, against a real Kafka broker of
// the test's own (stopped and restarted to take the sink away): a one-partition topic keeps one total
// order to check, and its max.message.bytes makes the broker refuse one record for good
// (MESSAGE_TOO_LARGE). kcat reads the topic back, independently of the library the forwarder uses.
import { afterAll, describe } from 'vitest'
import { configSchema, type KafkaUpstreamConfig } from '../../../config/schema.js'
import { KafkaForwarder } from '../../../gateway/forward/kafka-forwarder.js'
import { createLogger } from '../../../gateway/logger.js'
import { reading } from '../../helpers/forwarding.js'
import { createTopic, haveKafka, haveKcat, kcatConsume } from '../../helpers/kafka.js'
import { KafkaBroker } from '../../helpers/kafka-broker.js'
import { type ContractSink, forwarderContract, UPSTREAM } from './forwarder-contract.js'

const WINDOW = 20

let broker: KafkaBroker | undefined

async function kafkaSink(): Promise<ContractSink & { close(): Promise<void> }> {
  broker ??= await KafkaBroker.start()
  const b = broker
  const topic = await createTopic(1, { brokers: b.brokers, configs: { 'max.message.bytes': '8000' } })
  const config = configSchema.parse({
    gatewayId: 'gw-contract',
    upstreams: [
      {
        name: UPSTREAM,
        type: 'kafka',
        brokers: b.brokers,
        maxInflight: WINDOW,
        lingerMs: 2,
        ackTimeoutMs: 2000,
        reconnect: { minMs: 50, maxMs: 300 },
      },
    ],
    // The records are appended with their destination; the schema wants a route to a Kafka upstream.
    routes: [{ match: 'sensors/#', to: [UPSTREAM], topic }],
  }).upstreams[0] as KafkaUpstreamConfig
  const record = (i: number) => reading(i, { to: [{ upstream: UPSTREAM, topic, key: 'dev' }] })
  let isDown = false
  return {
    window: WINDOW,
    forwarder: (outbox) =>
      new KafkaForwarder({
        config,
        gatewayId: 'gw-contract',
        outbox,
        logger: createLogger({ level: 'silent' }),
      }),
    received: async () => {
      if (isDown) throw new Error('the broker is down')
      const seen = await kcatConsume(topic, 20_000, b.brokers)
      return seen.map((r) => Number(r.headers.find(([k]) => k === 'outpost-seq')?.[1] ?? -1))
    },
    down: async () => {
      isDown = true
      await b.stop()
    },
    up: async () => {
      await b.restart()
      isDown = false
    },
    record,
    refused: (i) => ({ ...record(i), payload: Buffer.alloc(20_000, 0x61) }),
    close: async () => {
      if (isDown) await b.restart()
    },
  }
}

describe.runIf(haveKafka() && haveKcat())('kafka', () => {
  forwarderContract('Kafka', kafkaSink, { timeoutMs: 90_000 })
  afterAllBrokers()
})

function afterAllBrokers(): void {
  // The broker is shared by the tests of this file and stopped after them.
  afterAll(async () => {
    await broker?.close()
  }, 60_000)
}
