// The Kafka topic a benchmark writes to, seen from the broker: created with its partitions (every leader
// answering before the first send), how many records it holds (the partitions' end offsets) and how
// many bytes its log holds (DescribeLogDirs: the partitions' sizes). The broker stores a producer's
// record batches as they came (compression.type=producer, one replica), so the growth of the log over
// a run is the record batches sent over the wire — without the produce requests' own framing (a few
// dozen bytes per partition and request).
import { randomBytes } from 'node:crypto'
import { Admin } from '@platformatic/kafka'

export interface TopicSize {
  records: number
  bytes: number
}

export class KafkaBenchTopic {
  private constructor(
    private readonly admin: Admin,
    readonly name: string,
    readonly partitions: number,
  ) {}

  static async create(brokers: string[], partitions: number, deadlineMs = 30_000): Promise<KafkaBenchTopic> {
    const admin = new Admin({ clientId: 'outpost-bench-admin', bootstrapBrokers: brokers })
    const name = `outpost-bench-${process.pid}-${randomBytes(3).toString('hex')}`
    try {
      await admin.createTopics({ topics: [name], partitions, replicas: 1 })
      const topic = new KafkaBenchTopic(admin, name, partitions)
      const deadline = Date.now() + deadlineMs
      for (;;) {
        // Metadata names a leader a moment before it acts as one: wait until it answers for each partition.
        const ready = await topic.size().then(
          () => true,
          () => false,
        )
        if (ready) return topic
        if (Date.now() > deadline)
          throw new Error(`topic ${name}: no working leader for every partition in time`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    } catch (err) {
      await admin.close()
      throw err
    }
  }

  /** Records in the topic now: the sum of its partitions' end offsets (one small request). */
  async records(): Promise<number> {
    const offsets = await this.admin.listOffsets({
      topics: [
        {
          name: this.name,
          partitions: Array.from({ length: this.partitions }, (_, partitionIndex) => ({
            partitionIndex,
            timestamp: -1n,
          })),
        },
      ],
    })
    if (offsets.length === 0) throw new Error(`topic ${this.name}: no offsets yet`)
    let records = 0
    for (const t of offsets) for (const p of t.partitions) records += Number(p.offset)
    return records
  }

  /** Records and log bytes, now. */
  async size(): Promise<TopicSize> {
    const partitions = Array.from({ length: this.partitions }, (_, i) => i)
    const [records, dirs] = await Promise.all([
      this.records(),
      this.admin.describeLogDirs({ topics: [{ name: this.name, partitions }] }),
    ])
    let bytes = 0
    for (const broker of dirs)
      for (const dir of broker.results)
        for (const t of dir.topics)
          if (t.name === this.name) for (const p of t.partitions) bytes += Number(p.partitionSize)
    return { records, bytes }
  }

  /** Deletes the topic (a shared broker keeps no benchmark data) and closes the admin client. */
  async delete(): Promise<void> {
    try {
      await this.admin.deleteTopics({ topics: [this.name] })
    } finally {
      await this.admin.close()
    }
  }
}
