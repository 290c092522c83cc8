// A real Kafka broker for tests (issue #8 "Real parts"): scripts/kafka/start.sh runs one on 127.0.0.1,
// .ci/run exports KAFKA_BROKERS. Topics are unique per test, so tests never see each other's records.
// Two independent consumers read them back: @platformatic/kafka's, and Debian's kcat (librdkafka).
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Admin, Consumer } from '@platformatic/kafka'
import { isLoopback } from '../../config/schema.js'
import { hasBinary, needs } from './needs.js'

/** The brokers in KAFKA_BROKERS ("host:port,…"), loopback only; empty when unset. */
export function kafkaBrokers(): string[] {
  return brokersFrom('KAFKA_BROKERS')
}

/** The broker's SASL_PLAINTEXT listener (KAFKA_SASL_BROKERS; start.sh opens it on KAFKA_PORT + 2). */
export function kafkaSaslBrokers(): string[] {
  return brokersFrom('KAFKA_SASL_BROKERS')
}

/** The test user of the SASL listener (scripts/kafka/server.properties, PLAIN and SCRAM). */
export const KAFKA_SASL_USER = { username: 'outpost', password: 'outpost-secret' } as const

/** True when a broker is configured; skips (or under CI=true fails) naming what is missing. */
export function haveKafka(): boolean {
  return needs(
    'a Kafka broker: run scripts/kafka/start.sh (KAFKA_PORT=19092 for a private one) and set KAFKA_BROKERS=127.0.0.1:9092',
    kafkaBrokers().length > 0,
  )
}

/** True when the broker's SASL listener is configured. */
export function haveKafkaSasl(): boolean {
  return needs(
    "the Kafka broker's SASL listener: set KAFKA_SASL_BROKERS=127.0.0.1:9094 (scripts/kafka/start.sh opens it on KAFKA_PORT + 2)",
    kafkaSaslBrokers().length > 0,
  )
}

function brokersFrom(variable: string): string[] {
  const raw = process.env[variable]?.trim() ?? ''
  if (raw === '') return []
  const brokers = raw.split(',').map((b) => b.trim())
  for (const b of brokers) {
    const host = b.slice(0, b.lastIndexOf(':')).replace(/^\[|\]$/g, '')
    if (!isLoopback(host))
      throw new Error(`${variable}: ${b} is not a loopback address; tests only talk to 127.0.0.1`)
  }
  return brokers
}

/** True when kcat is on PATH (Debian package kcat). */
export function haveKcat(): boolean {
  return needs('kcat (apt-get install kcat)', hasBinary('kcat'))
}

let topicCount = 0

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 'outpost-test'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}-${++topicCount}`
}

/**
 * Creates a topic with `partitions` partitions (and topic `configs`, e.g. max.message.bytes) and waits
 * until the leader of every partition answers for it. (Metadata names a leader a moment before that
 * broker acts as one: a produce in between fails for that partition, and the library then retries the
 * whole request — measured: without this wait, 4 of 8 acks=leader sends of 8 records to a new 3-partition
 * topic wrote 9 to 15 records.)
 */
export async function createTopic(
  partitions: number,
  options: { name?: string; configs?: Record<string, string>; deadlineMs?: number; brokers?: string[] } = {},
): Promise<string> {
  const name = options.name ?? uniqueTopic()
  const admin = new Admin({
    clientId: 'outpost-test-admin',
    bootstrapBrokers: options.brokers ?? kafkaBrokers(),
  })
  try {
    await admin.createTopics({
      topics: [name],
      partitions,
      replicas: 1,
      configs: Object.entries(options.configs ?? {}).map(([k, value]) => ({ name: k, value })),
    })
    const deadline = Date.now() + (options.deadlineMs ?? 15_000)
    let notYet: unknown
    for (;;) {
      const metadata = await admin.metadata({ topics: [name], forceUpdate: true })
      const topic = metadata.topics.get(name)
      if (topic?.partitionsCount === partitions && topic.partitions.every((p) => p.leader >= 0)) {
        const latest = Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: -1n,
        }))
        notYet = await admin.listOffsets({ topics: [{ name, partitions: latest }] }).then(
          () => undefined,
          (err: unknown) => err ?? 'failed',
        )
        if (notYet === undefined) return name
      }
      if (Date.now() > deadline)
        throw new Error(`topic ${name}: not every partition has a working leader in time`, { cause: notYet })
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  } finally {
    await admin.close()
  }
}

/** A record as a consumer saw it: text key and value (tests use UTF-8), headers in order. */
export interface SeenRecord {
  partition: number
  offset: number
  key: string | undefined
  value: string
  headers: [string, string][]
  timestamp: number
}

/**
 * Reads `topic` from the beginning of every partition with @platformatic/kafka's consumer (a group of
 * its own) until `count` records arrived or the deadline passed; returns what arrived, in partition
 * and offset order.
 */
export async function consumeAll(
  topic: string,
  count: number,
  deadlineMs = 20_000,
  brokers: string[] = kafkaBrokers(),
): Promise<SeenRecord[]> {
  const consumer = new Consumer({
    clientId: 'outpost-test-consumer',
    groupId: uniqueTopic('outpost-test-group'),
    bootstrapBrokers: brokers,
    maxWaitTime: 200,
  })
  const seen: SeenRecord[] = []
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, deadlineMs)
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      stream.on('data', (m) => {
        seen.push({
          partition: m.partition,
          offset: Number(m.offset),
          key: m.key === undefined || m.key === null || m.key.length === 0 ? undefined : m.key.toString(),
          value: m.value.toString(),
          headers: [...m.headers].map(([k, v]) => [k.toString(), v.toString()]),
          timestamp: Number(m.timestamp),
        })
        if (seen.length >= count) done()
      })
      stream.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
    await stream.close()
  } finally {
    await consumer.close(true)
  }
  return sorted(seen)
}

/**
 * Reads `topic` from the beginning of every partition with kcat, once, up to the end of each
 * partition (`-e`). The JSON envelope (`-J`) carries partition, offset, timestamp (`ts`), key,
 * headers (as [name, value, name, value, …]) and payload; a null key is null.
 */
export function kcatConsume(
  topic: string,
  deadlineMs = 20_000,
  brokers: string[] = kafkaBrokers(),
): Promise<SeenRecord[]> {
  const args = ['-C', '-b', brokers.join(','), '-t', topic, '-o', 'beginning', '-e', '-J', '-q']
  return new Promise((resolve, reject) => {
    execFile('kcat', args, { timeout: deadlineMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`kcat ${args.join(' ')}: ${err.message}\n${stderr}`))
        return
      }
      const seen = stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const j = JSON.parse(line) as {
            partition: number
            offset: number
            ts: number
            key: string | null
            payload: string | null
            headers?: string[]
          }
          const flat = j.headers ?? []
          const headers: [string, string][] = []
          for (let i = 0; i + 1 < flat.length; i += 2)
            headers.push([flat[i] as string, flat[i + 1] as string])
          return {
            partition: j.partition,
            offset: j.offset,
            key: j.key === null || j.key === '' ? undefined : j.key,
            value: j.payload ?? '',
            headers,
            timestamp: j.ts,
          }
        })
      resolve(sorted(seen))
    })
  })
}

/**
 * Calls `read` until it returns at least `count` records or `deadlineMs` passed (keep it below the
 * test timeout); returns the last result, so the test's own assertion says what was missing.
 */
export async function waitForCount<T>(
  read: () => Promise<T[]>,
  count: number,
  deadlineMs = 20_000,
): Promise<T[]> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    const got = await read()
    if (got.length >= count || Date.now() >= deadline) return got
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

function sorted(seen: SeenRecord[]): SeenRecord[] {
  return seen.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}
