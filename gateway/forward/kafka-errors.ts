// What a failed Kafka send means for the records in it (issue #8 "Records Kafka will never take"):
//
//   permanent  the broker will never take this record as it is: it moves to the dead letters
//   retryable  the cluster cannot take it now: back off and send it again
//   fatal      the producer itself is unusable (credentials, a broken idempotent sequence, a config the
//              cluster refuses): close it and create a new one, then send again — never dead-letter
//
// Classified by code, never by message text: the Kafka protocol error a response carried (the
// library's ProtocolError `apiId`, the name of the protocol's numeric code), else the library's own
// error code (`PLT_KFK_*`). One send can fail in several ways at once (a MultipleErrors tree: one
// branch per broker, per retry, per partition); the strongest kind in the tree wins, in the order
// fatal > retryable > permanent > unknown, so a record is dead-lettered only when nothing transient
// was wrong with the send — a forwarder resends a record alone before it dead-letters it.
//
// | Kafka protocol error (code)              | kind      | dead-letter reason | why                                     |
// |------------------------------------------|-----------|--------------------|-----------------------------------------|
// | MESSAGE_TOO_LARGE (10)                   | permanent | too-large          | over message.max.bytes / max.message.bytes |
// | RECORD_LIST_TOO_LARGE (18)               | permanent | too-large          | the batch is over the segment size      |
// | INVALID_TOPIC_EXCEPTION (17)             | permanent | topic-invalid      | illegal or internal topic name          |
// | TOPIC_AUTHORIZATION_FAILED (29)          | permanent | not-authorized     | no WRITE on that topic                  |
// | INVALID_RECORD (87)                      | permanent | payload-invalid    | refused by a broker-side record check (e.g. a compacted topic needs a key) |
// | INVALID_TIMESTAMP (32)                   | permanent | refused            | outside message.timestamp.before/after.max.ms |
// | UNSUPPORTED_FOR_MESSAGE_FORMAT (43)      | permanent | refused            | the topic's format cannot hold it       |
// | CORRUPT_MESSAGE (2)                      | retryable |                    | CRC mismatch on the way: send it again  |
// | UNKNOWN_TOPIC_OR_PARTITION (3)           | retryable |                    | not created yet / metadata stale        |
// | LEADER_NOT_AVAILABLE (5)                 | retryable |                    | election under way                      |
// | NOT_LEADER_OR_FOLLOWER (6)               | retryable |                    | metadata stale                          |
// | REQUEST_TIMED_OUT (7)                    | retryable |                    | replication did not finish in time      |
// | BROKER_NOT_AVAILABLE (8), REPLICA_NOT_AVAILABLE (9) | retryable |         |                                         |
// | NETWORK_EXCEPTION (13)                   | retryable |                    |                                         |
// | COORDINATOR_LOAD_IN_PROGRESS (14), COORDINATOR_NOT_AVAILABLE (15), NOT_COORDINATOR (16) | retryable | | InitProducerId |
// | NOT_ENOUGH_REPLICAS (19), NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) | retryable | | ISR below min.insync.replicas (acks=all) |
// | NOT_CONTROLLER (41), CONCURRENT_TRANSACTIONS (51), KAFKA_STORAGE_ERROR (56) | retryable | |               |
// | FENCED_LEADER_EPOCH (74), UNKNOWN_LEADER_EPOCH (75), THROTTLING_QUOTA_EXCEEDED (89) | retryable | |       |
// | OUT_OF_ORDER_SEQUENCE_NUMBER (45)        | fatal     |                    | the idempotent sequence broke: new producer id |
// | DUPLICATE_SEQUENCE_NUMBER (46)           | fatal     |                    | as above                                |
// | INVALID_PRODUCER_EPOCH (47), PRODUCER_FENCED (90) | fatal |                 | another producer took over the id       |
// | INVALID_PRODUCER_ID_MAPPING (49), UNKNOWN_PRODUCER_ID (59) | fatal |        | the broker forgot the producer id       |
// | CLUSTER_AUTHORIZATION_FAILED (31), TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) | fatal | | no IDEMPOTENT_WRITE |
// | SASL_AUTHENTICATION_FAILED (58), UNSUPPORTED_SASL_MECHANISM (33), ILLEGAL_SASL_STATE (34) | fatal | |   |
// | INVALID_REQUIRED_ACKS (21), UNSUPPORTED_VERSION (35), UNSUPPORTED_COMPRESSION_TYPE (76) | fatal | | the cluster refuses our settings: a new producer will not help either, but nothing is dead-lettered for it |
// | any other protocol error                 | retryable (UNKNOWN) |          | never dead-letter what we do not understand |
//
// | library error (PLT_KFK_…)                | kind      |
// |------------------------------------------|-----------|
// | NETWORK (connection refused, reset, closed), TIMEOUT (no answer within the request timeout) | retryable |
// | AUTHENTICATION                           | fatal     |
// | UNEXPECTED_CORRELATION_ID, OUT_OF_BOUNDS, UNFINISHED_WRITE_BUFFER, UNSUPPORTED_API,
// | UNSUPPORTED_COMPRESSION, UNSUPPORTED_FORMAT, UNSUPPORTED, USER | fatal |
// (A closed producer fails its sends with NETWORK and `closed: true`: CLIENT_CLOSED, fatal.)
import { TimeoutError } from '@platformatic/kafka'
import type { DeadLetterReason } from '../../store/dead-letters.js'

export const KAFKA_FAILURE_KINDS = ['permanent', 'retryable', 'fatal'] as const
export type KafkaFailureKind = (typeof KAFKA_FAILURE_KINDS)[number]

const PERMANENT = {
  MESSAGE_TOO_LARGE: 'too-large',
  RECORD_LIST_TOO_LARGE: 'too-large',
  INVALID_TOPIC_EXCEPTION: 'topic-invalid',
  TOPIC_AUTHORIZATION_FAILED: 'not-authorized',
  INVALID_RECORD: 'payload-invalid',
  INVALID_TIMESTAMP: 'refused',
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 'refused',
} as const satisfies Record<string, DeadLetterReason>

const RETRYABLE = [
  'CORRUPT_MESSAGE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'NOT_CONTROLLER',
  'CONCURRENT_TRANSACTIONS',
  'KAFKA_STORAGE_ERROR',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'THROTTLING_QUOTA_EXCEEDED',
  'PLT_KFK_NETWORK',
  'PLT_KFK_TIMEOUT',
] as const

const FATAL = [
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'DUPLICATE_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'UNKNOWN_PRODUCER_ID',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'INVALID_REQUIRED_ACKS',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'PLT_KFK_AUTHENTICATION',
  'PLT_KFK_UNEXPECTED_CORRELATION_ID',
  'PLT_KFK_OUT_OF_BOUNDS',
  'PLT_KFK_UNFINISHED_WRITE_BUFFER',
  'PLT_KFK_UNSUPPORTED_API',
  'PLT_KFK_UNSUPPORTED_COMPRESSION',
  'PLT_KFK_UNSUPPORTED_FORMAT',
  'PLT_KFK_UNSUPPORTED',
  'PLT_KFK_USER',
  'CLIENT_CLOSED',
] as const

/** Every code a classification can name: Kafka protocol errors by name, the library's, and UNKNOWN. */
export const KAFKA_ERROR_CODES = [
  ...(Object.keys(PERMANENT) as (keyof typeof PERMANENT)[]),
  ...RETRYABLE,
  ...FATAL,
  'UNKNOWN',
] as const
export type KafkaErrorCode = (typeof KAFKA_ERROR_CODES)[number]

export type KafkaFailure =
  | { kind: 'permanent'; code: keyof typeof PERMANENT; reason: DeadLetterReason; error: unknown }
  | { kind: 'retryable'; code: (typeof RETRYABLE)[number] | 'UNKNOWN'; error: unknown }
  | { kind: 'fatal'; code: (typeof FATAL)[number]; error: unknown }

const permanent = new Map(Object.entries(PERMANENT)) as Map<keyof typeof PERMANENT, DeadLetterReason>
const retryable = new Set<string>(RETRYABLE)
const fatal = new Set<string>(FATAL)

/** What a send's error means (see the table above). */
export function classifyKafkaError(error: unknown): KafkaFailure {
  let best: KafkaFailure = { kind: 'retryable', code: 'UNKNOWN', error }
  let bestRank = 0
  for (const code of errorCodes(error, 0)) {
    const failure = classifyCode(code, error)
    const rank = failure === undefined ? 0 : RANK[failure.kind]
    if (failure !== undefined && rank > bestRank) {
      best = failure
      bestRank = rank
    }
  }
  return best
}

const RANK: Record<KafkaFailureKind, number> = { permanent: 1, retryable: 2, fatal: 3 }

function classifyCode(code: string, error: unknown): KafkaFailure | undefined {
  const reason = permanent.get(code as keyof typeof PERMANENT)
  if (reason !== undefined) return { kind: 'permanent', code: code as keyof typeof PERMANENT, reason, error }
  if (retryable.has(code)) return { kind: 'retryable', code: code as (typeof RETRYABLE)[number], error }
  if (fatal.has(code)) return { kind: 'fatal', code: code as (typeof FATAL)[number], error }
  return undefined
}

const MAX_DEPTH = 8

/** The codes in an error tree (MultipleErrors' `errors`, and `cause`s), depth first. */
function* errorCodes(error: unknown, depth: number): Generator<string> {
  if (typeof error !== 'object' || error === null || depth > MAX_DEPTH) return
  const e = error as { apiId?: unknown; code?: unknown; closed?: unknown; errors?: unknown; cause?: unknown }
  if (typeof e.apiId === 'string') yield e.apiId
  // The library's TimeoutError carries the code PLT_KFK_NETWORK (1.35.0): its class tells it apart.
  else if (error instanceof TimeoutError) yield 'PLT_KFK_TIMEOUT'
  else if (e.code === 'PLT_KFK_NETWORK' && e.closed === true) yield 'CLIENT_CLOSED'
  else if (typeof e.code === 'string') yield e.code
  if (Array.isArray(e.errors)) for (const inner of e.errors) yield* errorCodes(inner, depth + 1)
  if (e.cause !== undefined) yield* errorCodes(e.cause, depth + 1)
}
