// Classification of failed Kafka sends by code (issue #8), on the library's own error classes as its
// producer builds them (a produce response's partition errors become a ResponseError of
// ProtocolErrors; retries and brokers wrap them in MultipleErrors). The real broker's errors are
// classified in kafka-producer.test.ts.
import {
  AuthenticationError,
  MultipleErrors,
  NetworkError,
  ProtocolError,
  ResponseError,
  TimeoutError,
  UserError,
} from '@platformatic/kafka'
import { describe, expect, test } from 'vitest'
import { classifyKafkaError, KAFKA_ERROR_CODES } from '../../../gateway/forward/kafka-errors.js'

const PRODUCE = 0

/** The error a produce response with these partition error codes fails with. */
function produceFailure(...codes: number[]): Error {
  const errors = Object.fromEntries(
    codes.map((code, i) => [`/responses/0/partition_responses/${i}`, [code, null] as [number, null]]),
  )
  return new MultipleErrors('Producing messages failed.', [new ResponseError(PRODUCE, 11, errors, {})])
}

describe('classifyKafkaError', () => {
  test.each([
    [10, 'MESSAGE_TOO_LARGE', 'too-large'],
    [18, 'RECORD_LIST_TOO_LARGE', 'too-large'],
    [17, 'INVALID_TOPIC_EXCEPTION', 'topic-invalid'],
    [29, 'TOPIC_AUTHORIZATION_FAILED', 'not-authorized'],
    [87, 'INVALID_RECORD', 'payload-invalid'],
    [32, 'INVALID_TIMESTAMP', 'refused'],
  ])('protocol error %i (%s) is permanent: dead letter reason %s', (code, name, reason) => {
    expect(classifyKafkaError(produceFailure(code))).toMatchObject({ kind: 'permanent', code: name, reason })
  })

  test.each([
    [3, 'UNKNOWN_TOPIC_OR_PARTITION'],
    [5, 'LEADER_NOT_AVAILABLE'],
    [6, 'NOT_LEADER_OR_FOLLOWER'],
    [7, 'REQUEST_TIMED_OUT'],
    [13, 'NETWORK_EXCEPTION'],
    [19, 'NOT_ENOUGH_REPLICAS'],
    [20, 'NOT_ENOUGH_REPLICAS_AFTER_APPEND'],
    [56, 'KAFKA_STORAGE_ERROR'],
  ])('protocol error %i (%s) is retryable', (code, name) => {
    expect(classifyKafkaError(produceFailure(code))).toMatchObject({ kind: 'retryable', code: name })
  })

  test.each([
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    [47, 'INVALID_PRODUCER_EPOCH'],
    [59, 'UNKNOWN_PRODUCER_ID'],
    [58, 'SASL_AUTHENTICATION_FAILED'],
    [31, 'CLUSTER_AUTHORIZATION_FAILED'],
    [76, 'UNSUPPORTED_COMPRESSION_TYPE'],
  ])('protocol error %i (%s) is fatal for the producer', (code, name) => {
    expect(classifyKafkaError(produceFailure(code))).toMatchObject({ kind: 'fatal', code: name })
  })

  test('a protocol error not in the table is retried, never dead-lettered', () => {
    expect(classifyKafkaError(produceFailure(-1))).toMatchObject({ kind: 'retryable', code: 'UNKNOWN' })
    expect(classifyKafkaError(produceFailure(44))).toMatchObject({ kind: 'retryable', code: 'UNKNOWN' })
  })

  test('the library errors: network and timeout retry; authentication, a closed client and misuse are fatal', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
    expect(classifyKafkaError(new NetworkError('Connection failed.', { cause: refused }))).toMatchObject({
      kind: 'retryable',
      code: 'PLT_KFK_NETWORK',
    })
    expect(classifyKafkaError(new TimeoutError('Request timed out.'))).toMatchObject({
      kind: 'retryable',
      code: 'PLT_KFK_TIMEOUT',
    })
    expect(classifyKafkaError(new AuthenticationError('SASL failed.'))).toMatchObject({ kind: 'fatal' })
    expect(classifyKafkaError(new NetworkError('Client is closed.', { closed: true }))).toMatchObject({
      kind: 'fatal',
      code: 'CLIENT_CLOSED',
    })
    expect(classifyKafkaError(new UserError('Failed to serialize a message.'))).toMatchObject({
      kind: 'fatal',
      code: 'PLT_KFK_USER',
    })
  })

  test('several failures in one send: fatal > retryable > permanent > unknown', () => {
    expect(classifyKafkaError(produceFailure(10, 6)).kind).toBe('retryable') // too large + not leader
    expect(classifyKafkaError(produceFailure(10, 45)).kind).toBe('fatal')
    expect(classifyKafkaError(produceFailure(6, 45)).kind).toBe('fatal')
    // A batch refused as INVALID_RECORD comes with per-record messages, which the library reports as
    // code -1: the known partition code decides.
    const withRecordErrors = new ResponseError(
      PRODUCE,
      11,
      {
        '/responses/0/partition_responses/0/record_errors/0': [
          -1,
          'Compacted topic cannot accept message without key',
        ],
        '/responses/0/partition_responses/0': [87, null],
      },
      {},
    )
    expect(classifyKafkaError(withRecordErrors)).toMatchObject({
      kind: 'permanent',
      reason: 'payload-invalid',
    })
  })

  test('errors after retries (MultipleErrors of each attempt) and causes are searched', () => {
    const retried = new MultipleErrors('produce failed 3 times.', [
      new NetworkError('Connection closed'),
      new ProtocolError('NOT_LEADER_OR_FOLLOWER'),
      new MultipleErrors('inner', [new ProtocolError('MESSAGE_TOO_LARGE')]),
    ])
    expect(classifyKafkaError(retried)).toMatchObject({ kind: 'retryable' })
    const wrapped = new Error('send failed', { cause: new ProtocolError('TOPIC_AUTHORIZATION_FAILED') })
    expect(classifyKafkaError(wrapped)).toMatchObject({ kind: 'permanent', reason: 'not-authorized' })
  })

  test('anything else (not an error, a plain Error) is an unknown, retryable failure', () => {
    for (const e of [undefined, null, 'boom', 42, new Error('boom'), { code: 'ECONNRESET' }]) {
      expect(classifyKafkaError(e)).toMatchObject({ kind: 'retryable', code: 'UNKNOWN' })
    }
  })

  test('every code a classification returns is in KAFKA_ERROR_CODES', () => {
    const codes = new Set<string>(KAFKA_ERROR_CODES)
    for (let code = -1; code <= 127; code++) {
      if (code === 0) continue
      expect(codes.has(classifyKafkaError(produceFailure(code)).code)).toBe(true)
    }
  })
})
