// Which partitions a failed produce call appended all the same (issue #8: one record the cluster
// refuses for good must neither hold back nor repeat the records of other partitions sent with it).
//
// A Kafka broker takes or refuses each partition's record batch of a produce request on its own (one
// batch per partition, appended whole or not at all):
//
//   ProduceResponse => [responses] throttle_time_ms
//     responses => name [partition_responses]
//       partition_responses => index error_code base_offset …      error_code 0: appended
//
// @platformatic/kafka 1.35 fails the whole send when one partition fails. The failed request's
// response is on its ResponseError (`response`); partitions of requests to other brokers that succeeded
// are in the send error's `produced.offsets`. It does not count the batches the failed request did
// append in its idempotent sequence numbers: the next batch to such a partition would be refused
// (OUT_OF_ORDER_SEQUENCE_NUMBER), so the forwarder starts a new producer before it sends again.
// Measured before this file existed, with 3 partitions and one record over max.message.bytes: a new
// producer resent the whole batch, appended the other partitions' records again, split the batch, was
// refused OUT_OF_ORDER, and so on without end.

const MAX_DEPTH = 8

/** "topic:partition" of every partition a failed send appended (empty when the error says nothing). */
export function appendedPartitions(error: unknown): Set<string> {
  const out = new Set<string>()
  collect(error, 0, out)
  return out
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}

interface ProduceResponseShape {
  responses?: Array<{ name?: unknown; partitionResponses?: Array<{ index?: unknown; errorCode?: unknown }> }>
}

function collect(error: unknown, depth: number, out: Set<string>): void {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return
  const e = error as { response?: unknown; produced?: unknown; errors?: unknown; cause?: unknown }
  const response = e.response as ProduceResponseShape | undefined
  for (const topic of Array.isArray(response?.responses) ? response.responses : []) {
    if (typeof topic.name !== 'string' || !Array.isArray(topic.partitionResponses)) continue
    for (const p of topic.partitionResponses) {
      if (p.errorCode === 0 && typeof p.index === 'number') out.add(partitionKey(topic.name, p.index))
    }
  }
  const offsets = (e.produced as { offsets?: unknown } | undefined)?.offsets
  for (const o of Array.isArray(offsets)
    ? (offsets as Array<{ topic?: unknown; partition?: unknown }>)
    : []) {
    if (typeof o.topic === 'string' && typeof o.partition === 'number')
      out.add(partitionKey(o.topic, o.partition))
  }
  if (Array.isArray(e.errors)) for (const inner of e.errors) collect(inner, depth + 1, out)
  if (e.cause !== undefined) collect(e.cause, depth + 1, out)
}
