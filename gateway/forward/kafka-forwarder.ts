// Forwards the outbox to one Kafka cluster (@platformatic/kafka, kafka-producer.ts): the same durable
// store-and-forward as the MQTT forwarder, behind the same Forwarder interface.
//
// One batch at a time, in outbox order: read up to `maxInflight` records (`batchBytes`; waiting up to
// `lingerMs` for a short batch to fill), send them in one produce call, and only once the cluster
// acknowledged them all (acks=all, idempotent producer by default) commit the cursor past the batch and
// wait for that to be written — so a crash resends at most one batch, and per-key order holds (a key
// always lands on the same partition: kafka-partitioner.ts). The next batch is read and prepared while
// one is on its way (kafka-batch-reader.ts); it is sent only after that one is acknowledged and the
// cursor written. Every message carries its identity as headers (kafka-message.ts): duplicates are
// recognisable.
//
// What a failed send means comes from kafka-errors.ts:
//   retryable  back off (the upstream's `reconnect` settings) and send the same batch again with the
//              same producer: its id and sequence numbers let the cluster drop a copy it appended
//              already (a send whose answer was lost — measured with a broker frozen by SIGSTOP: two
//              batches twice when each retry had a new producer, none since). An error nobody knows
//              (UNKNOWN) is retried too, with a new producer
//   fatal      close the producer, back off, send the batch again with a new one
//   permanent  a record the cluster will never take: the partitions the cluster appended all the same
//              are done (kafka-appended.ts), the rest is split until that record is alone, then it moves
//              to the dead letters (written before the cursor passes it); the others go on. A new
//              producer takes over first: the library's sequence numbers missed what was appended
// A record whose topic (as rendered for this upstream) is not a legal Kafka topic is dead-lettered
// without being sent (`bad-topic`). A send with no answer within `ackTimeoutMs` shows the upstream as
// stalled until an acknowledgement comes.
//
// The forwarder picks each record's partition itself (the Java partitioner over the topic's partition
// count from the producer's metadata, as the library's partitioner would), so that after a failed send
// it knows which records the partitions that were appended hold.

import type { KafkaUpstreamConfig } from '../../config/schema.js'
import type { DeadLetterReason } from '../../store/dead-letters.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import type { Logger } from '../logger.js'
import { backoffDelay, sleep } from './backoff.js'
import { deadLettersOf, type Forwarder, Progress, type UpstreamStatus, within } from './forwarder.js'
import { appendedPartitions, partitionKey } from './kafka-appended.js'
import { type KafkaBatch, KafkaBatchReader, type KafkaItem } from './kafka-batch-reader.js'
import { classifyKafkaError } from './kafka-errors.js'
import { javaPartitionForKey } from './kafka-partitioner.js'
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

type Item = KafkaItem

export class KafkaForwarder implements Forwarder {
  readonly name: string
  private readonly config: KafkaUpstreamConfig
  private readonly outbox: Outbox
  private readonly log: Logger
  private readonly now: () => number
  private readonly gatewayId: Buffer
  private readonly limiter: RateLimiter | undefined
  private readonly batches: KafkaBatchReader
  private readonly stopController = new AbortController()
  private readonly counters = { sent: 0, acked: 0, skipped: 0, batches: 0, producers: 0 }
  private readonly failures = { retryable: 0, fatal: 0, permanent: 0 }
  private running: Promise<void> | undefined
  private producer: KafkaProducer | undefined
  /** The batch being sent: after a failure its records not yet settled go again. */
  private pending: { items: Item[]; last: number } | undefined
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
    this.batches = new KafkaBatchReader({
      outbox: this.outbox,
      upstream: this.name,
      gatewayId: this.gatewayId,
      maxRecords: this.config.maxInflight,
      maxBytes: this.config.batchBytes,
      lingerMs: this.config.lingerMs,
    })
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
      try {
        if (this.producer === undefined) this.newProducer()
        await this.forward(stop, () => {
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
            : 'Kafka send failed; sending the batch again',
        )
        if (failure.kind === 'fatal' || failure.code === 'UNKNOWN') await this.closeProducer()
      }
      if (stop.aborted) break
      this.state = 'backoff'
      await sleep(
        backoffDelay(attempt++, { ...this.config.reconnect, random: this.opts.random }),
        stop,
      ).catch(() => undefined)
    }
    await this.closeProducer()
    this.state = 'stopped'
  }

  /**
   * Sends batch after batch. Throws on a retryable or fatal failure (the caller backs off and sends the
   * pending batch again, with a new producer after a fatal one).
   */
  private async forward(stop: AbortSignal, succeeded: () => void): Promise<void> {
    for (;;) {
      if (stop.aborted) return
      if (this.pending === undefined) {
        const batch = await this.batches.next(this.progress.position, stop)
        if (batch === undefined) return
        await this.passOver(batch)
        this.pending = { items: batch.items, last: batch.last }
      }
      const { items, last } = this.pending
      this.batches.readAhead(last, stop)
      if (items.length > 0) {
        await this.send(items, stop)
        this.state = 'connected'
        succeeded()
      }
      await this.advance(last)
      this.pending = undefined
    }
  }

  /** Counts what the batch passes over and writes the dead letters of its illegal topics, once. */
  private async passOver(batch: KafkaBatch): Promise<void> {
    this.counters.skipped += batch.skipped
    for (const { record, detail } of batch.illegal) await this.deadLetter(record, 'bad-topic', detail)
  }

  /**
   * Sends `items` in one produce call. On a permanent failure, what the cluster appended is done; the
   * rest is split until the record it refuses is alone, and that one is dead-lettered. Throws on a
   * retryable or fatal failure.
   */
  private async send(items: Item[], stop: AbortSignal): Promise<void> {
    if (this.limiter) for (let i = 0; i < items.length; i++) await this.limiter.take(stop)
    const err = await this.produce(items)
    if (err === undefined) {
      this.counters.acked += items.length
      this.counters.batches++
      this.settled(items)
      return
    }
    const failure = classifyKafkaError(err)
    if (failure.kind !== 'permanent') throw err
    this.answered()
    this.failures.permanent++
    if (items.length === 1) {
      const item = items[0] as Item
      await this.deadLetter(item.record, failure.reason, `Kafka ${failure.code}`)
      this.settled(items)
      return
    }
    const appended = appendedPartitions(err)
    const rest = items.filter((i) => !appended.has(partitionOf(i)))
    this.counters.acked += items.length - rest.length
    this.settled(items.filter((i) => appended.has(partitionOf(i))))
    await this.renewProducer()
    const half = Math.ceil(rest.length / 2)
    if (half > 0) await this.send(rest.slice(0, half), stop)
    if (rest.length > 1) await this.send(rest.slice(half), stop)
  }

  /** Takes settled items out of the pending batch: a resend after a later failure leaves them out. */
  private settled(items: Item[]): void {
    if (this.pending === undefined || items.length === 0) return
    if (items === this.pending.items) {
      this.pending.items = []
      return
    }
    const done = new Set(items)
    this.pending.items = this.pending.items.filter((i) => !done.has(i))
  }

  /** One produce call: undefined once the cluster acknowledged every record, else why not. */
  private async produce(items: Item[]): Promise<unknown> {
    const producer = this.producer as KafkaProducer
    this.inflight = items.length
    this.counters.sent += items.length
    const watch = setTimeout(() => this.stalled(items.length), this.config.ackTimeoutMs)
    try {
      await this.pinPartitions(producer, items)
      await producer.send({ messages: items.map((i) => i.message) })
      this.answered()
      return undefined
    } catch (err) {
      return err ?? new Error('produce failed')
    } finally {
      clearTimeout(watch)
      this.inflight = 0
    }
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

  /**
   * Sets each message's partition as the library's partitioner would put it (the Java partitioner over
   * the topic's partition count in the producer's metadata), so a failed send's per-partition outcome
   * maps back to records. A topic the metadata does not know is left to the library (never counted as
   * appended after a failure: sent again).
   */
  private async pinPartitions(producer: KafkaProducer, items: Item[]): Promise<void> {
    const topics = [...new Set(items.map((i) => i.message.topic))]
    const metadata = await producer.metadata({ topics, autocreateTopics: true })
    for (const { message } of items) {
      const count = metadata.topics.get(message.topic)?.partitionsCount
      message.partition = count ? javaPartitionForKey(message.key ?? this.gatewayId, count) : undefined
    }
  }

  private newProducer(): void {
    const create = this.opts.createProducer ?? createKafkaProducer
    this.producer = create(this.config, {
      gatewayId: this.opts.gatewayId,
      requestTimeoutMs: Math.max(this.config.ackTimeoutMs, 1_000),
    })
    this.counters.producers++
  }

  private async closeProducer(): Promise<void> {
    const producer = this.producer
    this.producer = undefined
    await producer?.close().catch(() => undefined)
  }

  /** A new producer (id and sequence numbers) in place of this one, nothing being in flight. */
  private async renewProducer(): Promise<void> {
    await this.closeProducer()
    this.newProducer()
  }
}

/** "topic:partition" of an item whose partition was pinned; undefined partitions match nothing. */
function partitionOf(item: Item): string {
  const { topic, partition } = item.message
  return partition === undefined ? '' : partitionKey(topic, partition)
}
