// The limit for `npm run bench -- drain-kafka`: a bare @platformatic/kafka producer sending the records a
// gateway would forward, from memory, from its own process (as the gateway pays for process separation
// too). The producer is the one the gateway makes for the same upstream config (kafka-producer.ts:
// idempotent, acks=all, the codec, the Java partitioner, the same timeouts) and the records are the
// same (kafka-bench-record.ts, byte for byte the messages kafka-message.ts makes of them — checked at
// start); batches of the gateway's maxInflight records, one at a time, each sent when the previous one
// is acknowledged — what the forwarder does, without the outbox. A message is built with as little as
// it takes (what is the same for a device made once): written first through kafkaBenchRecord and
// toKafkaMessage per record, the loop spent a fifth of its thread building messages and ran at half
// the speed — a limit that slow flattered the gateway.
//
// Not a benchmark (run.ts skips it): `node dist/scripts/bench/kafka-publisher.js '{…}'`. Prints
// `{"msg":"done",…}` with the time from the first acknowledged batch to the last (so the producer's
// connection and id are not counted, as the gateway's are not), its CPU, and the bytes its sockets
// wrote (produce requests with their framing).
import { configSchema, type KafkaUpstreamConfig } from '../../config/schema.js'
import {
  HEADER_GATEWAY,
  HEADER_ORIGIN,
  HEADER_SEQ,
  HEADER_TOPIC,
  type KafkaMessage,
  toKafkaMessage,
} from '../../gateway/forward/kafka-message.js'
import { createKafkaProducer, type KafkaProducer } from '../../gateway/forward/kafka-producer.js'
import { BENCH_UPSTREAM, kafkaBenchConfig, kafkaBenchRecord } from './kafka-bench-record.js'
import { deviceId, deviceTopic, telemetryPayloads } from './workload.js'

export interface KafkaPublisherArgs {
  brokers: string[]
  topic: string
  messages: number
  batch: number
  batchBytes: number
  lingerMs: number
  compression: string
  payloadBytes: number
  devices: number
  gatewayId: string
  ts: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as KafkaPublisherArgs
const payloads = telemetryPayloads(256, args.payloadBytes)
const config = configSchema.parse({
  gatewayId: args.gatewayId,
  ...kafkaBenchConfig(args.brokers, args.topic, args),
}).upstreams[0] as KafkaUpstreamConfig
const producer = createKafkaProducer(config, {
  gatewayId: args.gatewayId,
  requestTimeoutMs: Math.max(config.ackTimeoutMs, 1_000),
})
const gatewayId = Buffer.from(args.gatewayId)
const names = [HEADER_GATEWAY, HEADER_SEQ, HEADER_TOPIC, HEADER_ORIGIN].map((h) => Buffer.from(h))
const [GATEWAY, SEQ, TOPIC, ORIGIN] = names as [Buffer, Buffer, Buffer, Buffer]
const device = Array.from({ length: args.devices }, (_, d) => ({
  key: Buffer.from(deviceId(d)),
  topic: Buffer.from(deviceTopic(d)),
  origin: Buffer.from(deviceId(d)),
}))
const timestamp = BigInt(Math.trunc(args.ts))

function message(seq: number): KafkaMessage {
  const d = device[(seq - 1) % args.devices] as (typeof device)[number]
  return {
    topic: args.topic,
    key: d.key,
    value: payloads[(seq - 1) % payloads.length] as Buffer,
    timestamp,
    headers: new Map([
      [GATEWAY, gatewayId],
      [SEQ, Buffer.from(String(seq))],
      [TOPIC, d.topic],
      [ORIGIN, d.origin],
    ]),
  }
}

function batch(first: number): KafkaMessage[] {
  const out: KafkaMessage[] = []
  for (let seq = first; seq < first + args.batch && seq <= args.messages; seq++) out.push(message(seq))
  return out
}

/** The gateway's message for the same record (kafka-bench-record.ts through kafka-message.ts). */
function gatewayMessage(seq: number): KafkaMessage {
  const r = kafkaBenchRecord(seq, args.topic, args.devices, payloads, args.ts)
  return toKafkaMessage({ ...r, seq, size: 0, offset: 0 }, BENCH_UPSTREAM, gatewayId) as KafkaMessage
}

for (const seq of [1, 2, args.devices + 3]) {
  const text = (m: KafkaMessage) =>
    JSON.stringify({ ...m, timestamp: String(m.timestamp), headers: [...(m.headers as Map<Buffer, Buffer>)] })
  if (text(message(seq)) !== text(gatewayMessage(seq)))
    throw new Error(`the limit's message ${seq} differs from the gateway's`)
}

// The first batch opens the connections and gets the producer id; timing starts when it is acknowledged.
await producer.send({ messages: batch(1) })
const first = Math.min(args.batch, args.messages)
const cpu0 = process.cpuUsage()
const bytes0 = bytesWritten(producer)
const t0 = performance.now()
for (let seq = first + 1; seq <= args.messages; seq += args.batch)
  await producer.send({ messages: batch(seq) })
const elapsedMs = performance.now() - t0
const cpu = process.cpuUsage(cpu0)
const socketBytes = bytesWritten(producer) - bytes0
await producer.close()
console.log(
  JSON.stringify({
    msg: 'done',
    timed: args.messages - first,
    elapsedMs,
    cpuUs: cpu.user + cpu.system,
    socketBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  }),
)

/** Bytes written to the brokers so far, over every connection of the producer. */
function bytesWritten(p: KafkaProducer): number {
  let n = 0
  for (const broker of p.currentMetadata?.brokers.values() ?? []) {
    n += p.connections.getEstablishedConnection(broker)?.socket.bytesWritten ?? 0
  }
  return n
}
