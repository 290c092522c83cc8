// The partition of a keyed record is the one Java's producer picks (issue #8).
import { randomBytes } from 'node:crypto'
import { compatibilityPartitioner, defaultPartitioner, murmur2 as libraryMurmur2 } from '@platformatic/kafka'
import { describe, expect, test } from 'vitest'
import {
  javaPartitionForKey,
  murmur2,
  outpostPartitioner,
} from '../../../gateway/forward/kafka-partitioner.js'

// Computed with Kafka's own code, kafka-clients 4.4.0 (the jars scripts/kafka/start.sh fetches):
//   Utils.murmur2(key.getBytes(UTF_8)) and BuiltInPartitioner.partitionForKey(bytes, n) for n = 3, 12, 4
// (java -cp kafka-clients-4.4.0.jar:slf4j-api-1.7.36.jar Ref.java). The first six hashes are also
// the test vectors of Kafka's UtilsTest.testMurmur2.
const JAVA: [key: string, hash: number, p3: number, p12: number, p4: number][] = [
  ['21', -973932308, 0, 0, 0],
  ['foobar', -790332482, 0, 6, 2],
  ['a-little-bit-long-string', -985981536, 2, 8, 0],
  ['a-little-bit-longer-string', -1486304829, 2, 11, 3],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971, 2, 5, 1],
  ['abc', 479470107, 0, 3, 3],
  ['device-1', 1007784178, 1, 10, 2],
  ['device-2', 142171714, 1, 10, 2],
  ['device-3', 1405192456, 1, 4, 0],
  ['device-4', 1344473310, 0, 6, 2],
  ['device-5', -445894008, 2, 8, 0],
  ['device-6', 1214437419, 0, 3, 3],
  ['device-7', -1690467389, 0, 3, 3],
  ['device-8', -1245464045, 0, 3, 3],
  ['pi-kitchen', 1641843345, 0, 9, 1],
  ['', 275646681, 0, 9, 1],
  ['été', -2101193575, 1, 1, 1],
]

describe('murmur2 and the partition of a key', () => {
  test("murmur2 gives Java's Utils.murmur2 for every reference key", () => {
    for (const [key, hash] of JAVA) expect(murmur2(Buffer.from(key)), key).toBe(hash)
  })

  test("the partition is Java's BuiltInPartitioner.partitionForKey for 3, 12 and 4 partitions", () => {
    for (const [key, , p3, p12, p4] of JAVA) {
      const bytes = Buffer.from(key)
      expect(
        [3, 12, 4].map((n) => javaPartitionForKey(bytes, n)),
        key,
      ).toEqual([p3, p12, p4])
    }
  })

  test('the producer partitioner returns the non-negative hash (the library takes it modulo the count)', () => {
    const partitioner = outpostPartitioner(Buffer.from('pi-kitchen'))
    for (const [key, , p3, p12] of JAVA) {
      const h = partitioner({ topic: 't' }, Buffer.from(key), { metadata: undefined })
      expect(h).toBeGreaterThanOrEqual(0)
      expect([h % 3, h % 12], key).toEqual([p3, p12])
    }
  })

  test('a record without a key goes to the partition of the gateway id', () => {
    const partitioner = outpostPartitioner(Buffer.from('pi-kitchen'))
    const h = partitioner({ topic: 't' }, undefined, { metadata: undefined })
    expect([h % 3, h % 12]).toEqual([0, 9])
  })

  test("the same as the library's BigInt murmur2 and compatibilityPartitioner over 2,000 random keys", () => {
    for (let i = 0; i < 2000; i++) {
      const key = randomBytes(i % 67)
      expect(murmur2(key)).toBe(libraryMurmur2(key))
      expect(javaPartitionForKey(key, 7)).toBe(compatibilityPartitioner({ topic: 't' }, key) % 7)
    }
  })

  test("the library's default partitioner is not Java's for keys whose hash is negative (why we pass ours)", () => {
    const differ = JAVA.filter(
      ([key, , p3]) => defaultPartitioner({ topic: 't' }, Buffer.from(key)) % 3 !== p3,
    )
    expect(differ.map(([key]) => key)).toContain('21')
    expect(differ.every(([, hash]) => hash < 0)).toBe(true)
  })
})
