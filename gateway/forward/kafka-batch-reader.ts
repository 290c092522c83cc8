// The batches a Kafka forwarder sends: records read from the outbox in order after a position (up to
// maxInflight records and batchBytes; a short batch waits up to lingerMs for more) and turned into
// messages (kafka-message.ts) — the next batch while the one before is on its way to the cluster.
//
// Reading ahead moves nothing: the cursor is the forwarder's, and the batch read ahead is sent only once
// the one before is acknowledged and the cursor written. Preparing is pure here (what to dead-letter is
// only said; the forwarder writes the dead letters when the batch is next), so a batch read ahead and
// dropped — the forwarder stopped, or went back — leaves no trace. Profiled on a 1M-record drain,
// reading (the outbox, decoding) and preparing take about a seventh of the gateway's JavaScript thread:
// done while the batch before is on its way, rather than between its acknowledgement and the next send.
import { kafkaTopicProblem } from '../../config/kafka-topic.js'
import type { Outbox } from '../../store/outbox.js'
import type { StoredRecord } from '../../store/record-codec.js'
import { sleep } from './backoff.js'
import { type KafkaMessage, kafkaDestination, kafkaMessage } from './kafka-message.js'
import { Utf8Cache } from './utf8-cache.js'

/** One record of a batch and its message. */
export interface KafkaItem {
  record: StoredRecord
  message: KafkaMessage
}

export interface KafkaBatch {
  items: KafkaItem[]
  /** Records whose topic here is not a legal Kafka topic: to dead-letter (`bad-topic`), never sent. */
  illegal: Array<{ record: StoredRecord; detail: string }>
  /** Records not routed to this upstream: passed over. */
  skipped: number
  /** The sequence number of the batch's last record (the cursor moves there once it is done). */
  last: number
}

export interface KafkaBatchReaderOptions {
  outbox: Outbox
  upstream: string
  gatewayId: Buffer
  maxRecords: number
  maxBytes: number
  lingerMs: number
}

const MAX_TOPICS = 4096

export class KafkaBatchReader {
  private ahead: { after: number; batch: Promise<KafkaBatch | undefined> } | undefined
  private readonly utf8 = new Utf8Cache()
  /** Why a rendered topic is not a legal Kafka topic (undefined: it is), by topic. */
  private readonly topicProblems = new Map<string, string | undefined>()

  constructor(private readonly opts: KafkaBatchReaderOptions) {}

  /** The batch after `after`: the one read ahead when it is that one, else read now. Undefined when stopped. */
  next(after: number, stop: AbortSignal): Promise<KafkaBatch | undefined> {
    const ahead = this.ahead
    this.ahead = undefined
    return ahead?.after === after ? ahead.batch : this.read(after, stop)
  }

  /** Starts reading the batch after `after` (the last record of the batch on its way). */
  readAhead(after: number, stop: AbortSignal): void {
    if (this.ahead?.after === after) return
    const batch = this.read(after, stop)
    batch.catch(() => undefined) // awaited through next(), or dropped: never an unhandled rejection
    this.ahead = { after, batch }
  }

  private async read(after: number, stop: AbortSignal): Promise<KafkaBatch | undefined> {
    const { outbox, maxRecords, maxBytes, lingerMs } = this.opts
    const limits = { maxRecords, maxBytes }
    for (;;) {
      if (stop.aborted) return undefined
      let records = await outbox.read(after, limits)
      if (records.length === 0) {
        await outbox.waitForAppend(after, stop).catch(() => undefined)
        continue
      }
      if (records.length < maxRecords && lingerMs > 0) {
        await sleep(lingerMs, stop).catch(() => undefined)
        if (stop.aborted) return undefined
        records = await outbox.read(after, limits)
      }
      return this.prepare(records)
    }
  }

  private prepare(records: StoredRecord[]): KafkaBatch {
    const batch: KafkaBatch = {
      items: [],
      illegal: [],
      skipped: 0,
      last: (records[records.length - 1] as StoredRecord).seq,
    }
    const utf8 = (text: string) => this.utf8.get(text)
    for (const record of records) {
      const dest = kafkaDestination(record, this.opts.upstream)
      if (dest === undefined) {
        batch.skipped++
        continue
      }
      const problem = this.topicProblem(dest.topic)
      if (problem !== undefined) {
        batch.illegal.push({ record, detail: `topic "${dest.topic}": ${problem}` })
        continue
      }
      batch.items.push({ record, message: kafkaMessage(record, dest, this.opts.gatewayId, utf8) })
    }
    return batch
  }

  private topicProblem(topic: string): string | undefined {
    if (this.topicProblems.has(topic)) return this.topicProblems.get(topic)
    if (this.topicProblems.size >= MAX_TOPICS) this.topicProblems.clear()
    const problem = kafkaTopicProblem(topic)
    this.topicProblems.set(topic, problem)
    return problem
  }
}
