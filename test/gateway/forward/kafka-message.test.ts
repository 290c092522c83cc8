// An outbox record as one upstream's Kafka message: topic and key of that upstream, the identity
// headers, the ingest time (issue #8). What the broker and a consumer then see is tested in
// kafka-producer.test.ts.
import { describe, expect, test } from 'vitest'
import { kafkaDestination, toKafkaMessage } from '../../../gateway/forward/kafka-message.js'
import type { StoredRecord } from '../../../store/record-codec.js'

function record(overrides: Partial<StoredRecord> = {}): StoredRecord {
  return {
    seq: 4242,
    topic: 'sensors/dev-7/telemetry',
    payload: Buffer.from('{"t":21.5}'),
    qos: 1,
    retain: false,
    ts: 1_700_000_000_123,
    origin: 'dev-7',
    to: [
      { upstream: 'cloud', topic: 'sites/pi/sensors/dev-7/telemetry', key: undefined },
      { upstream: 'lake', topic: 'telemetry', key: 'dev-7' },
    ],
    size: 100,
    offset: 0,
    ...overrides,
  }
}

const text = (headers: unknown) =>
  [...(headers as Map<Buffer, Buffer>)].map(([k, v]) => [k.toString(), v.toString()])

describe('toKafkaMessage', () => {
  test("the upstream's topic and key, the payload, the ingest time and the four identity headers", () => {
    const m = toKafkaMessage(record(), 'lake', Buffer.from('pi-kitchen'))
    expect(m?.topic).toBe('telemetry')
    expect(m?.key?.toString()).toBe('dev-7')
    expect(m?.value?.toString()).toBe('{"t":21.5}')
    expect(m?.timestamp).toBe(1_700_000_000_123n)
    expect(text(m?.headers)).toEqual([
      ['outpost-gateway', 'pi-kitchen'],
      ['outpost-seq', '4242'],
      ['outpost-topic', 'sensors/dev-7/telemetry'],
      ['outpost-origin', 'dev-7'],
    ])
  })

  test('no key template, no key; an unknown origin is an empty header', () => {
    const m = toKafkaMessage(
      record({ origin: '', to: [{ upstream: 'lake', topic: 't' }] }),
      'lake',
      Buffer.from('g'),
    )
    expect(m?.key).toBeUndefined()
    expect(text(m?.headers)).toContainEqual(['outpost-origin', ''])
  })

  test('a destination without a topic of its own, and a record for "all", keep the MQTT topic', () => {
    expect(kafkaDestination(record({ to: [{ upstream: 'lake', key: 'k' }] }), 'lake')).toEqual({
      topic: 'sensors/dev-7/telemetry',
      key: 'k',
    })
    expect(kafkaDestination(record({ to: 'all' }), 'lake')).toEqual({
      topic: 'sensors/dev-7/telemetry',
      key: undefined,
    })
  })

  test('a record not routed to the upstream has no message there', () => {
    expect(toKafkaMessage(record(), 'elsewhere', Buffer.from('g'))).toBeUndefined()
  })

  test('the value is the stored payload bytes, not a copy, also from a Uint8Array view', () => {
    const backing = new Uint8Array([0, 1, 2, 3, 255, 5])
    const payload = backing.subarray(2, 5)
    const m = toKafkaMessage(record({ payload }), 'lake', Buffer.from('g'))
    expect([...(m?.value ?? [])]).toEqual([2, 3, 255])
    backing[3] = 9
    expect([...(m?.value ?? [])]).toEqual([2, 9, 255])
  })
})
