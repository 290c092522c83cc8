// The records of `npm run bench -- drain-kafka`: what the gateway stores for a device reading routed to
// the Kafka upstream "lake" by `{ match: "sensors/+/telemetry", to: [lake], topic: T, key: "{1}" }`
// (record seq s from device (s - 1) % devices), so the backlog in the outbox and the limit's records in
// memory are the same records.
import type { OutboxRecord } from '../../store/record-codec.js'
import { deviceId, deviceTopic } from './workload.js'

export const BENCH_UPSTREAM = 'lake'

export function kafkaBenchRecord(
  seq: number,
  kafkaTopic: string,
  devices: number,
  payloads: readonly Buffer[],
  ts: number,
): OutboxRecord {
  const device = (seq - 1) % devices
  return {
    topic: deviceTopic(device),
    payload: payloads[(seq - 1) % payloads.length] as Buffer,
    qos: 1,
    retain: false,
    ts,
    origin: deviceId(device),
    to: [{ upstream: BENCH_UPSTREAM, topic: kafkaTopic, key: deviceId(device) }],
  }
}

/** The upstream and route as the gateway's config says them (the limit parses the same upstream). */
export function kafkaBenchConfig(
  brokers: string[],
  kafkaTopic: string,
  settings: { compression: string; batch: number; batchBytes: number; lingerMs: number },
): { upstreams: Record<string, unknown>[]; routes: Record<string, unknown>[] } {
  return {
    upstreams: [
      {
        name: BENCH_UPSTREAM,
        type: 'kafka',
        brokers,
        compression: settings.compression,
        maxInflight: settings.batch,
        batchBytes: settings.batchBytes,
        lingerMs: settings.lingerMs,
        reconnect: { minMs: 100, maxMs: 500 },
      },
    ],
    routes: [{ match: 'sensors/+/telemetry', to: [BENCH_UPSTREAM], topic: kafkaTopic, key: '{1}' }],
  }
}
