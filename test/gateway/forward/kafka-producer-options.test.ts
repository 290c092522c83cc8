// The producer options an upstream's config turns into (issue #8): idempotent with acks=all by default,
// the Java-compatible partitioner, SASL and TLS as the schema declares them, and no codec the running
// Node.js lacks. Sends against the real broker are in kafka-producer.test.ts.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ProduceAcks } from '@platformatic/kafka'
import { describe, expect, test } from 'vitest'
import type { KafkaUpstreamConfig } from '../../../config/schema.js'
import { configSchema } from '../../../config/schema.js'
import {
  createKafkaProducer,
  kafkaProducerOptions,
  kafkaTls,
  supportedCompressions,
} from '../../../gateway/forward/kafka-producer.js'
import { tempDir } from '../../helpers/tmp.js'

/** A Kafka upstream as the schema makes it (defaults applied). */
function upstream(extra: Record<string, unknown> = {}): KafkaUpstreamConfig {
  const config = configSchema.parse({
    gatewayId: 'pi-kitchen',
    upstreams: [{ name: 'lake', type: 'kafka', brokers: ['127.0.0.1:9092'], ...extra }],
    routes: [{ match: 'sensors/#', to: ['lake'], topic: 'telemetry' }],
  })
  return config.upstreams[0] as KafkaUpstreamConfig
}

const settings = { gatewayId: 'pi-kitchen' }

describe('kafkaProducerOptions', () => {
  test('by default: idempotent, acks=all, no compression, client id from the gateway id, auto-create asked', () => {
    const o = kafkaProducerOptions(upstream(), settings, undefined)
    expect(o).toMatchObject({
      clientId: 'outpost-pi-kitchen',
      bootstrapBrokers: ['127.0.0.1:9092'],
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: 'none',
      autocreateTopics: true,
    })
    expect(o.sasl).toBeUndefined()
    expect(o.tls).toBeUndefined()
    expect(typeof o.partitioner).toBe('function')
  })

  test('acks: leader is a plain producer (idempotence needs acks=all)', () => {
    const o = kafkaProducerOptions(upstream({ acks: 'leader' }), settings, undefined)
    expect(o).toMatchObject({ idempotent: false, acks: ProduceAcks.LEADER })
  })

  test('the library retries a few times, never forever (0 and 1 would mean forever to it)', () => {
    expect(kafkaProducerOptions(upstream(), settings, undefined).retries).toBe(3)
    expect(kafkaProducerOptions(upstream(), { ...settings, retries: 0 }, undefined).retries).toBe(2)
  })

  test.each([
    ['plain', 'PLAIN'],
    ['scram-sha-256', 'SCRAM-SHA-256'],
    ['scram-sha-512', 'SCRAM-SHA-512'],
  ])('sasl %s is the library mechanism %s with the credentials', (mechanism, library) => {
    const o = kafkaProducerOptions(
      upstream({ sasl: { mechanism, username: 'gw', password: 's3cret' } }),
      settings,
      undefined,
    )
    expect(o.sasl).toEqual({ mechanism: library, username: 'gw', password: 's3cret' })
  })

  test('tls: the files are read once, with servername and rejectUnauthorized', () => {
    const dir = tempDir()
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `${f} bytes`)
    const config = upstream({
      clientId: 'custom',
      tls: {
        caFile: join(dir, 'ca.pem'),
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        servername: 'kafka.example',
        rejectUnauthorized: false,
      },
    })
    const tls = kafkaTls(config)
    expect(tls?.ca?.toString()).toBe('ca.pem bytes')
    expect(tls?.cert?.toString()).toBe('cert.pem bytes')
    expect(tls?.key?.toString()).toBe('key.pem bytes')
    expect(tls).toMatchObject({ servername: 'kafka.example', rejectUnauthorized: false })
    const o = kafkaProducerOptions(config, settings, tls)
    expect(o.tls).toBe(tls)
    expect(o.clientId).toBe('custom')
  })

  test('a missing TLS file fails with the upstream and the file named', () => {
    const config = upstream({ tls: { caFile: '/nonexistent/ca.pem' } })
    expect(() => kafkaTls(config)).toThrow(/upstream lake: cannot read tls.caFile \/nonexistent\/ca.pem/)
  })
})

describe('compression codecs', () => {
  test('none, gzip, snappy and lz4 are always there; zstd exactly where node:zlib has it', async () => {
    const zlib = await import('node:zlib')
    const expected = ['none', 'gzip', 'snappy', 'lz4']
    if (typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function') expected.push('zstd')
    expect(supportedCompressions()).toEqual(expected)
  })

  test.skipIf(supportedCompressions().includes('zstd'))(
    'zstd on a Node.js without it fails at creation with OUTPOST_UPSTREAM_UNSUPPORTED',
    () => {
      // The schema refuses it there already (test/config/kafka-checks.test.ts): this is the second line.
      const zstd: KafkaUpstreamConfig = { ...upstream(), compression: 'zstd' }
      expect(() => createKafkaProducer(zstd, settings)).toThrow(
        expect.objectContaining({
          code: 'OUTPOST_UPSTREAM_UNSUPPORTED',
          message: expect.stringMatching(/zstd/),
        }),
      )
    },
  )
})
