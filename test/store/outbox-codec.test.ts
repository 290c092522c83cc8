// Record codec round trips, through a real outbox (append → LevelDB → read, and again after a reopen)
// and through the codec functions directly.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Outbox } from '../../store/outbox.js'
import { decodeRecord, encodeRecord, type OutboxRecord, type StoredRecord } from '../../store/record-codec.js'
import { logSize, NO_DISK_GUARD, readAll } from '../helpers/outbox.js'
import { tempDir } from '../helpers/tmp.js'

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
const big = Buffer.alloc(256 * 1024)
for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >>> 8)) & 0xff

const base: OutboxRecord = {
  topic: 'sensors/t1/telemetry',
  payload: Buffer.from('21.5'),
  qos: 1,
  retain: false,
  ts: 1_732_600_000_123,
  origin: 'sensor-1',
  to: 'all',
}

const cases: Array<[string, OutboxRecord]> = [
  ['empty payload', { ...base, payload: Buffer.alloc(0) }],
  ['all 256 byte values', { ...base, payload: allBytes }],
  ['256 KiB payload', { ...base, payload: big }],
  ['unicode topic and origin', { ...base, topic: 'capteurs/température/☃/日本', origin: 'gerät-Ω-🚀' }],
  ['empty origin', { ...base, origin: '' }],
  ['qos 0', { ...base, qos: 0 }],
  ['qos 2 retained', { ...base, qos: 2, retain: true }],
  ['qos 1 retained, ts 0', { ...base, retain: true, ts: 0 }],
  [
    'destinations with topic and key',
    {
      ...base,
      to: [
        { upstream: 'cloud', topic: 'sites/pi/sensors/t1' },
        { upstream: 'lake', key: 't1' },
        { upstream: 'lake-2', topic: 'raw/ü', key: 'clé-ключ' },
        { upstream: 'plain' },
        { upstream: 'empty-key', key: '' },
      ],
    },
  ],
  ['empty destination list', { ...base, to: [] }],
]

/** The record as it must come back: a destination's topic/key are either present or undefined. */
function expected(r: OutboxRecord): Omit<OutboxRecord, 'payload'> {
  const to = r.to === 'all' ? 'all' : r.to.map((d) => ({ upstream: d.upstream, topic: d.topic, key: d.key }))
  return { topic: r.topic, qos: r.qos, retain: r.retain, ts: r.ts, origin: r.origin, to }
}

function expectSame(got: StoredRecord | undefined, want: OutboxRecord): void {
  expect(got).toBeDefined()
  const { payload, seq: _seq, size: _size, offset: _offset, ...rest } = got as StoredRecord
  expect(rest).toEqual(expected(want))
  expect(Buffer.compare(Buffer.from(payload), Buffer.from(want.payload))).toBe(0)
  expect(payload.byteLength).toBe(want.payload.byteLength)
}

describe('through the outbox', () => {
  const dir = join(tempDir(), 'data')
  let outbox: Outbox
  let first = 0
  beforeAll(async () => {
    outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
    first = await outbox.append(cases.map(([, r]) => r))
  })
  afterAll(async () => {
    await outbox.close()
  })

  test.each(cases.map(([name], i) => [name, i] as const))('%s', async (_, i) => {
    const [got] = await outbox.read(first + i - 1, { maxRecords: 1 })
    expectSame(got, cases[i]![1])
    expect(got?.seq).toBe(first + i)
    expect(got?.size).toBe(logSize(cases[i]![1]))
  })

  test('all of them again after a reopen, with sizes and offsets that add up', async () => {
    await outbox.close()
    outbox = await Outbox.open({ dir, ...NO_DISK_GUARD })
    const all = await readAll(outbox)
    expect(all).toHaveLength(cases.length)
    let offset = 0
    for (const [i, got] of all.entries()) {
      expectSame(got, cases[i]![1])
      expect(got.offset).toBe(offset)
      offset += got.size
    }
    expect((await outbox.stats()).bytes).toBe(offset)
  })
})

describe('codec functions', () => {
  test.each(cases)('%s: decode(encode(r)) === r', (_, r) => {
    const value = encodeRecord(r, 12_345)
    const got = decodeRecord(42, value, 9)
    expectSame(got, r)
    expect(got).toMatchObject({ seq: 42, offset: 12_345, size: 9 + value.length })
  })

  test('a truncated or foreign value is refused, never misread', () => {
    const value = encodeRecord(cases[8]![1], 0)
    expect(() => decodeRecord(1, value.subarray(0, 30), 9)).toThrow(/truncated|too short/)
    const wrongVersion = Buffer.from(value)
    wrongVersion[0] = 99
    expect(() => decodeRecord(1, wrongVersion, 9)).toThrow(/format version/)
    const qos3 = Buffer.from(value)
    qos3[1] = (qos3[1] as number) | 0b11
    expect(() => decodeRecord(1, qos3, 9)).toThrow(/QoS/)
  })

  test('limits of the grammar are enforced on encode', () => {
    expect(() => encodeRecord({ ...base, topic: 'x'.repeat(0x10000) }, 0)).toThrow(RangeError)
    const many = Array.from({ length: 256 }, (_, i) => ({ upstream: `u${i}` }))
    expect(() => encodeRecord({ ...base, to: many }, 0)).toThrow(RangeError)
    expect(() => encodeRecord({ ...base, to: [{ upstream: 'u'.repeat(256) }] }, 0)).toThrow(RangeError)
  })
})
