// End-to-end fixtures for Kafka upstreams (issue #8 "Done when"): the real gateway (a child process, as
// shipped) with a Kafka upstream whose route keys each reading by its device ({1} of
// sensors/+/telemetry), its /api/status polled within a deadline, and what a consumer of every
// partition must have seen: every acknowledged reading, each device's readings on one partition in
// publish order (first copies), every record carrying its identity (outpost-gateway, outpost-seq) so
// that a duplicate is recognisable.
import { join } from 'node:path'
import type { KafkaForwarderStatus } from '../../gateway/forward/kafka-forwarder.js'
import type { GatewayStatus } from '../../gateway/gateway.js'
import { decodeReading, gatewayConfig, type Reading, readingTopic } from './e2e.js'
import { GatewayProcess } from './gateway-process.js'
import type { SeenRecord } from './kafka.js'

export const GATEWAY_ID = 'gw-test'
export const KAFKA_UPSTREAM = 'lake'

/** The Kafka upstream "lake" (short backoff, so a test sees a cluster come back quickly). */
export function kafkaUpstream(
  brokers: string[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name: KAFKA_UPSTREAM,
    type: 'kafka',
    brokers,
    reconnect: { minMs: 100, maxMs: 1000 },
    ...extra,
  }
}

/** Readings of every device to `to` under the Kafka topic `topic`, keyed by device id. */
export function deviceRoute(to: string[], topic: string): Record<string, unknown> {
  return { match: 'sensors/+/telemetry', to, topic, key: '{1}' }
}

/** A gateway in `dir` (data in dir/data) with these upstreams and routes, /api/status on a free port. */
export function startKafkaGateway(
  dir: string,
  upstreams: Record<string, unknown>[],
  routes: Record<string, unknown>[],
): Promise<GatewayProcess> {
  const config = gatewayConfig(join(dir, 'data'), undefined, {
    upstreams,
    routes,
    http: { enabled: true, host: '127.0.0.1', port: 0 },
  })
  return GatewayProcess.start(dir, config)
}

export function kafkaStatus(status: GatewayStatus, name = KAFKA_UPSTREAM): KafkaForwarderStatus {
  const u = status.upstreams.find((x) => x.name === name)
  if (u?.type !== 'kafka') throw new Error(`no Kafka upstream "${name}" in /api/status`)
  return u as KafkaForwarderStatus
}

/** The backlog of upstream `name` (records past its cursor) in a status snapshot. */
export function backlogOf(status: GatewayStatus, name: string): number {
  return status.outbox.cursors.find((c) => c.name === name)?.backlogMessages ?? Number.NaN
}

/**
 * Polls /api/status until `done` holds, at most `timeoutMs` (keep it below the test's timeout);
 * returns the last snapshot, or throws naming what was awaited and where things stood.
 */
export async function waitForStatus(
  gateway: GatewayProcess,
  done: (s: GatewayStatus) => boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<GatewayStatus> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const s = await gateway.status()
    if (done(s)) return s
    if (performance.now() > deadline) {
      const k = s.upstreams.map((u) => `${u.name} ${u.state} at ${u.position}`).join(', ')
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (lastSeq ${s.outbox.lastSeq}; ${k})`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** Waits until upstream `name` is done with everything in the outbox (its cursor at the last record). */
export function waitForDrained(
  gateway: GatewayProcess,
  timeoutMs: number,
  name = KAFKA_UPSTREAM,
): Promise<GatewayStatus> {
  return waitForStatus(
    gateway,
    (s) => s.outbox.lastSeq > 0 && backlogOf(s, name) === 0,
    timeoutMs,
    `${name} to drain the outbox`,
    100,
  )
}

export interface KafkaDelivery {
  /** Broken promises: a record without its identity or key, a device on two partitions, order, a duplicate that differs. */
  problems: string[]
  /** Acknowledged readings no partition has ("client/i"), the first 20. */
  missing: string[]
  missingCount: number
  /** Distinct outbox sequence numbers seen, and records beyond them (copies). */
  unique: number
  duplicates: number
  /** Partitions the devices' keys landed on. */
  partitions: number[]
}

const header = (r: SeenRecord, name: string) => r.headers.find(([k]) => k === name)?.[1]

/**
 * Checks what a consumer read from every partition (in partition and offset order, as kcatConsume and
 * consumeAll return it) against the readings the devices had acknowledged.
 */
export function checkKafkaDelivery(
  seen: readonly SeenRecord[],
  acked: Iterable<Reading>,
  gatewayId = GATEWAY_ID,
): KafkaDelivery {
  const problems: string[] = []
  const partitionOfKey = new Map<string, number>()
  const lastOfKey = new Map<string, number>()
  const payloadOfSeq = new Map<number, string>()
  const arrived = new Set<string>()
  let duplicates = 0
  for (const r of seen) {
    const where = `partition ${r.partition} offset ${r.offset}`
    const seq = Number(header(r, 'outpost-seq'))
    if (header(r, 'outpost-gateway') !== gatewayId || !Number.isInteger(seq) || seq <= 0) {
      problems.push(`${where}: no identity (headers ${JSON.stringify(r.headers)})`)
      continue
    }
    const earlier = payloadOfSeq.get(seq)
    if (earlier !== undefined) {
      duplicates++
      if (earlier !== r.value) problems.push(`${where}: seq ${seq} again with other content`)
      continue
    }
    payloadOfSeq.set(seq, r.value)
    let reading: Reading
    try {
      reading = decodeReading(Buffer.from(r.value))
    } catch {
      problems.push(`${where}: seq ${seq} is not a reading: ${r.value.slice(0, 60)}`)
      continue
    }
    const key = `dev-${reading.client}`
    if (r.key !== key) problems.push(`${where}: key ${r.key} for a reading of ${key}`)
    if (header(r, 'outpost-topic') !== readingTopic(reading.client))
      problems.push(`${where}: outpost-topic ${header(r, 'outpost-topic')}`)
    const partition = partitionOfKey.get(key) ?? r.partition
    partitionOfKey.set(key, partition)
    if (partition !== r.partition) problems.push(`${where}: ${key} also on partition ${partition}`)
    const last = lastOfKey.get(key) ?? -1
    if (reading.i <= last) problems.push(`${where}: ${key} reading ${reading.i} after ${last}`)
    lastOfKey.set(key, Math.max(last, reading.i))
    arrived.add(`${reading.client}/${reading.i}`)
  }
  const missing: string[] = []
  for (const r of acked) {
    const k = `${r.client}/${r.i}`
    if (!arrived.has(k)) missing.push(k)
  }
  return {
    problems: problems.slice(0, 20),
    missing: missing.slice(0, 20),
    missingCount: missing.length,
    unique: payloadOfSeq.size,
    duplicates,
    partitions: [...new Set(partitionOfKey.values())].sort(),
  }
}
