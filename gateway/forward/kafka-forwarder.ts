// Forwards the outbox to one Kafka cluster (@platformatic/kafka, kafka-producer.ts): the same durable
// store-and-forward as the MQTT forwarder, behind the same Forwarder interface.
//
// One batch at a time, in outbox order: read up to `maxInflight` records (`batchBytes`; waiting up to
// `lingerMs` for a short batch to fill), send them in one produce call, and only once the cluster
// acknowledged them all (acks=all, idempotent producer by default) commit the cursor past the batch and
// wait for that to be written — so a crash resends at most one batch, and per-key order holds (a key
// always lands on the same partition: kafka-partitioner.ts). Every message carries its identity as
// headers (kafka-message.ts): duplicates are recognisable.
//
// What a failed send means comes from kafka-errors.ts:
//   retryable  back off (the upstream's `reconnect` settings) and send the same batch again
//   fatal      close the producer, back off, send the batch again with a new one
//   permanent  a record the cluster will never take: the batch is split until that record is alone,
//              then it moves to the dead letters (written before the cursor passes it); the rest go on
// A record whose topic (as rendered for this upstream) is not a legal Kafka topic is dead-lettered
// without being sent (`bad-topic`). A send with no answer within `ackTimeoutMs` shows the upstream as
// stalled until an acknowledgement comes.

import { isLegalKafkaTopic, kafkaTopicProblem } from '../../config/kafka-topic.js'
import type { KafkaUpstreamConfig } from '../../config/schema.js'
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import type { Logger } from '../logger.js'
import { backoffDelay, sleep } from './backoff.js'
import { deadLettersOf, type Forwarder, Progress, type UpstreamStatus, within } from './forwarder.js'
import { classifyKafkaError } from './kafka-errors.js'
import { type KafkaMessage, kafkaDestination, toKafkaMessage } from './kafka-message.js'
import {
  createKafkaProducer,
  type KafkaProducer,
  type KafkaProducerSettings,
  supportedCompressions,
} from './kafka-producer.js'
import { RateLimiter } from './rate-limit.js'

export interface KafkaForwarderStatus extends UpstreamStatus {
  type: 'kafka'
  brokers: string[]
  compression: KafkaUpstreamConfig['compression']
  /** Produce calls that succeeded, and producers created (a new one after a fatal error). */
  batches: number
  producers: number
  /** Failed sends, by what they meant. */
  failures: { retryable: number; fatal: number; permanent: number }
}

export interface KafkaForwarderOptions {
  config: KafkaUpstreamConfig
  gatewayId: string
  outbox: Outbox
  logger: Logger
  /** Creates the producer (a seam for tests; createKafkaProducer by default). */
  createProducer?: (config: KafkaUpstreamConfig, settings: KafkaProducerSettings) => KafkaProducer
  random?: () => number
  /** Wall clock, for "stalled since" (default Date.now). */
  now?: () => number
}

/** One record of a batch: its message, or why it is not sent. */
interface Item {
  record: StoredRecord
  message: KafkaMessage
  bytes: number
}

export class KafkaForwarder implements Forwarder {
  readonly name: string
  private readonly config: KafkaUpstreamConfig
  private readonly outbox: Outbox
  private readonly log: Logger
  private readonly now: () => number
  private readonly gatewayId: Buffer
  private readonly limiter: RateLimiter | undefined
  private readonly stopController = new AbortController()
  private readonly counters = { sent: 0, acked: 0, skipped: 0, batches: 0, producers: 0 }
  private readonly failures = { retryable: 0, fatal: 0, permanent: 0 }
  private running: Promise<void> | undefined
  private readonly progress: Progress
  private inflight = 0
  private state: 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped' = 'idle'
  private stalledSince: number | undefined
  private lastError: string | undefined

  constructor(private readonly opts: KafkaForwarderOptions) {
    this.config = opts.config
    this.name = opts.config.name
    this.outbox = opts.outbox
    this.log = opts.logger.child({ upstream: this.name })
    this.now = opts.now ?? Date.now
    this.gatewayId = Buffer.from(opts.gatewayId)
    this.limiter = opts.config.maxRatePerSec ? new RateLimiter(opts.config.maxRatePerSec) : undefined
    if (!opts.createProducer && !supportedCompressions().includes(opts.config.compression)) {
      // Found at start, not at the first send (createKafkaProducer says what is available).
      createKafkaProducer(opts.config, { gatewayId: opts.gatewayId })
    }
    this.progress = new Progress(this.outbox.cursor(this.name))
  }

  start(): void {
    if (this.running) return
    this.running = this.run(this.stopController.signal).catch((err: unknown) => {
      this.log.error({ err }, 'forwarder stopped on an unexpected error')
    })
  }

  drain(timeoutMs: number): Promise<boolean> {
    return this.progress.reach(this.outbox.lastSeq, timeoutMs, () => this.state === 'connected')
  }

  async stop(deadlineMs = 5_000): Promise<void> {
    this.stopController.abort(new Error('forwarder stopped'))
    await within(this.running ?? Promise.resolve(), deadlineMs)
    this.state = 'stopped'
  }

  status(): KafkaForwarderStatus {
    const stalled = this.stalledSince !== undefined && this.state !== 'stopped'
    return {
      name: this.name,
      type: 'kafka',
      state: stalled ? 'stalled' : this.state,
      position: this.progress.position,
      inflight: this.inflight,
      sent: this.counters.sent,
      acked: this.counters.acked,
      skipped: this.counters.skipped,
      deadLetters: deadLettersOf(this.outbox, this.name),
      stalledSince: this.stalledSince === undefined ? undefined : new Date(this.stalledSince).toISOString(),
      lastError: this.lastError,
      brokers: [...this.config.brokers],
      compression: this.config.compression,
      batches: this.counters.batches,
      producers: this.counters.producers,
      failures: { ...this.failures },
    }
  }

  // ------------------------------------------------------------- the loop

  /** Producer after producer (a new one after a fatal error), with backoff, until stopped. */
  private async run(stop: AbortSignal): Promise<void> {
    let attempt = 0
    while (!stop.aborted) {
      this.state = 'connecting'
      let producer: KafkaProducer | undefined
      try {
        producer = this.createProducer()
        this.counters.producers++
        await this.forward(producer, stop, () => {
          attempt = 0
        })
      } catch (err) {
        if (stop.aborted) break
        const failure = classifyKafkaError(err)
        this.failures[failure.kind === 'permanent' ? 'retryable' : failure.kind]++
        this.lastError = (err as Error).message
        this.log.warn(
          { err: (err as Error).message, kind: failure.kind, code: failure.code, attempt },
          failure.kind === 'fatal'
            ? 'Kafka producer failed; starting a new one'
            : 'Kafka send failed; retrying',
        )
      } finally {
        await producer?.close().catch(() => undefined)
      }
      if (stop.aborted) break
      this.state = 'backoff'
      await sleep(
        backoffDelay(attempt++, { ...this.config.reconnect, random: this.opts.random }),
        stop,
      ).catch(() => undefined)
    }
    this.state = 'stopped'
  }

  /**
   * Sends batch after batch with one producer. Throws on a retryable or fatal failure (the caller backs
   * off and starts again from the cursor, with a new producer after a fatal one).
   */
  private async forward(producer: KafkaProducer, stop: AbortSignal, succeeded: () => void): Promise<void> {
    for (;;) {
      if (stop.aborted) return
      const records = await this.nextBatch(stop)
      if (records === undefined) return
      const items: Item[] = []
      for (const r of records) {
        const item = await this.prepare(r)
        if (item) items.push(item)
      }
      if (items.length > 0) {
        await this.send(producer, items, stop)
        this.state = 'connected'
        succeeded()
      }
      const last = (records[records.length - 1] as StoredRecord).seq
      await this.advance(last)
    }
  }

  /** The next records after the cursor: a full batch, or what came within lingerMs; undefined when stopped. */
  private async nextBatch(stop: AbortSignal): Promise<StoredRecord[] | undefined> {
    const limits = { maxRecords: this.config.maxInflight, maxBytes: this.config.batchBytes }
    for (;;) {
      if (stop.aborted) return undefined
      let records = await this.outbox.read(this.progress.position, limits)
      if (records.length === 0) {
        await this.outbox.waitForAppend(this.progress.position, stop).catch(() => undefined)
        continue
      }
      if (records.length < limits.maxRecords && this.config.lingerMs > 0) {
        await sleep(this.config.lingerMs, stop).catch(() => undefined)
        if (stop.aborted) return undefined
        records = await this.outbox.read(this.progress.position, limits)
      }
      return records
    }
  }

  /** The record's message, or undefined when it is passed over (not routed here) or dead-lettered. */
  private async prepare(r: StoredRecord): Promise<Item | undefined> {
    const dest = kafkaDestination(r, this.name)
    if (dest === undefined) {
      this.counters.skipped++
      return undefined
    }
    if (!isLegalKafkaTopic(dest.topic)) {
      await this.deadLetter(r, 'bad-topic', `topic "${dest.topic}": ${kafkaTopicProblem(dest.topic)}`)
      return undefined
    }
    const message = toKafkaMessage(r, this.name, this.gatewayId) as KafkaMessage
    return { record: r, message, bytes: r.size }
  }

  /**
   * Sends `items` in one produce call; on a permanent failure splits them until the record the cluster
   * refuses is alone, and dead-letters it. Throws on a retryable or fatal failure.
   */
  private async send(producer: KafkaProducer, items: Item[], stop: AbortSignal): Promise<void> {
    if (this.limiter) for (let i = 0; i < items.length; i++) await this.limiter.take(stop)
    this.inflight = items.length
    this.counters.sent += items.length
    const watch = setTimeout(() => this.stalled(items.length), this.config.ackTimeoutMs)
    try {
      await producer.send({ messages: items.map((i) => i.message) })
    } catch (err) {
      const failure = classifyKafkaError(err)
      if (failure.kind !== 'permanent') throw err
      this.answered()
      this.failures.permanent++
      if (items.length === 1) {
        const item = items[0] as Item
        await this.deadLetter(item.record, failure.reason, `Kafka ${failure.code}`)
        return
      }
      const half = Math.ceil(items.length / 2)
      await this.send(producer, items.slice(0, half), stop)
      await this.send(producer, items.slice(half), stop)
      return
    } finally {
      clearTimeout(watch)
      this.inflight = 0
    }
    this.answered()
    this.counters.acked += items.length
    this.counters.batches++
  }

  /** Moves the cursor past `seq` and waits until that is written (at most one batch to resend after a crash). */
  private async advance(seq: number): Promise<void> {
    if (!this.progress.advance(seq)) return
    try {
      await this.outbox.commit(this.name, seq)
    } catch {
      // the outbox is closed: we are stopping
    }
  }

  private async deadLetter(record: StoredRecord, reason: DeadLetterReason, detail: string): Promise<void> {
    await this.outbox.deadLetters.add(this.name, record, reason, detail)
    this.log.warn({ seq: record.seq, topic: record.topic, reason, detail }, 'dead-lettered')
  }

  private stalled(records: number): void {
    if (this.stalledSince !== undefined) return
    this.stalledSince = this.now()
    this.log.warn(
      { records, ackTimeoutMs: this.config.ackTimeoutMs },
      'Kafka upstream stalled: no acknowledgement within ackTimeoutMs',
    )
  }

  private answered(): void {
    if (this.stalledSince === undefined) return
    this.log.info({ stalledMs: this.now() - this.stalledSince }, 'Kafka upstream acknowledging again')
    this.stalledSince = undefined
  }

  private createProducer(): KafkaProducer {
    const create = this.opts.createProducer ?? createKafkaProducer
    return create(this.config, {
      gatewayId: this.opts.gatewayId,
      requestTimeoutMs: Math.max(this.config.ackTimeoutMs, 1_000),
    })
  }
}
