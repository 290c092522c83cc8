// The @platformatic/kafka producer of one Kafka upstream, built from its config (issue #8):
//
// - idempotent with acks=all (the default): the broker drops a batch resent after a lost answer, and
//   keeps each partition in send order. The library then allows one produce request in flight per
//   connection and forces acks=-1. `acks: leader` gives a plain producer (acks=1): idempotence needs
//   acks=all.
// - retries: the library retries a retryable failure a few times itself (`retries` × `retryDelayMs`),
//   then the send fails and the forwarder backs off with the upstream's `reconnect` settings. (Left
//   alone, an idempotent producer of the library retries forever: a dead cluster would never be seen.)
// - the Java-compatible partitioner (kafka-partitioner.ts); topics auto-created where the cluster
//   allows it, as Java's producer asks by default.
// - compression: none, gzip (zlib), snappy and lz4 (the library's bundled WebAssembly) everywhere;
//   zstd only where node:zlib has it (Node.js ≥ 22.15): on Node 20 the library has no zstd, and it
//   takes no codec from outside, so `compression: zstd` fails here, at start, not at the first send.
// - `maxInflight` of the config is the forwarder's window (records sent and not yet acknowledged), not
//   the library's per-connection request limit.
import type { ConnectionOptions as TlsOptions } from 'node:tls'
import { compressionsAlgorithms, ProduceAcks, Producer, type ProducerOptions } from '@platformatic/kafka'
import type { KafkaUpstreamConfig } from '../../config/schema.js'
import { GatewayError } from '../errors.js'
import { outpostPartitioner } from './kafka-partitioner.js'
import { readUpstreamFile } from './upstream-file.js'

export type KafkaProducer = Producer<Buffer, Buffer, Buffer, Buffer>
export type KafkaCompression = KafkaUpstreamConfig['compression']

export interface KafkaProducerSettings {
  /** Identifies the gateway: the default client id, and the partition of keyless records. */
  gatewayId: string
  /** Attempts of the library's own retry loop for a retryable failure. Default 3. */
  retries?: number
  retryDelayMs?: number
  connectTimeoutMs?: number
  /** How long to wait for any answer from a broker. Default 30 s. */
  requestTimeoutMs?: number
  /** How long the broker may wait for the in-sync replicas (acks=all). Default 5 s. */
  produceTimeoutMs?: number
}

/** The codecs this Node.js can send with (the library's own list, filtered by what is available). */
export function supportedCompressions(): KafkaCompression[] {
  return (['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const).filter(
    (c) => compressionsAlgorithms[c].available,
  )
}

/** The TLS options of an upstream, its files read once (a missing file fails the start). */
export function kafkaTls(config: KafkaUpstreamConfig): TlsOptions | undefined {
  const tls = config.tls
  if (tls === undefined) return undefined
  return {
    ca: readUpstreamFile(tls.caFile, 'tls.caFile', config.name),
    cert: readUpstreamFile(tls.certFile, 'tls.certFile', config.name),
    key: readUpstreamFile(tls.keyFile, 'tls.keyFile', config.name),
    servername: tls.servername,
    rejectUnauthorized: tls.rejectUnauthorized,
  }
}

const SASL_MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const

/** The library's producer options for `config` (no I/O: `tls` is read by kafkaTls). */
export function kafkaProducerOptions(
  config: KafkaUpstreamConfig,
  settings: KafkaProducerSettings,
  tls: TlsOptions | undefined,
): ProducerOptions<Buffer, Buffer, Buffer, Buffer> {
  const idempotent = config.acks === 'all'
  return {
    clientId: config.clientId ?? `outpost-${settings.gatewayId}`,
    bootstrapBrokers: [...config.brokers],
    idempotent,
    acks: idempotent ? ProduceAcks.ALL : ProduceAcks.LEADER,
    compression: config.compression,
    partitioner: outpostPartitioner(Buffer.from(settings.gatewayId)),
    autocreateTopics: true,
    // ≥ 2: the library turns 0 and 1 into "forever" for an idempotent producer.
    retries: Math.max(2, settings.retries ?? 3),
    retryDelay: settings.retryDelayMs ?? 250,
    connectTimeout: settings.connectTimeoutMs ?? 10_000,
    requestTimeout: settings.requestTimeoutMs ?? 30_000,
    timeout: settings.produceTimeoutMs ?? 5_000,
    ...(tls === undefined ? {} : { tls }),
    ...(config.sasl === undefined
      ? {}
      : {
          sasl: {
            mechanism: SASL_MECHANISMS[config.sasl.mechanism],
            username: config.sasl.username,
            password: config.sasl.password,
          },
        }),
  }
}

/** A producer for `config`. Throws OUTPOST_UPSTREAM_UNSUPPORTED for a codec this Node.js lacks. */
export function createKafkaProducer(
  config: KafkaUpstreamConfig,
  settings: KafkaProducerSettings,
): KafkaProducer {
  if (!supportedCompressions().includes(config.compression)) {
    throw new GatewayError(
      'OUTPOST_UPSTREAM_UNSUPPORTED',
      `upstream ${config.name}: compression ${config.compression} is not available on Node.js ${process.versions.node} (needs node:zlib zstd, Node.js ≥ 22.15); available: ${supportedCompressions().join(', ')}`,
    )
  }
  return new Producer(kafkaProducerOptions(config, settings, kafkaTls(config)))
}
