// An outbox record as the Kafka message one upstream gets (issue #8, DESIGN.md "Delivery"):
//
//   topic      the record's topic rendered for this upstream (the route's `topic` template); a record
//              stored for "all" upstreams keeps its MQTT topic
//   key        the route's `key` template as rendered for this upstream (e.g. "{1}" = the device id), as
//              UTF-8; no key template, no key (the library then spreads records round-robin)
//   value      the payload bytes, as stored
//   timestamp  the ingest time (r.ts, ms since the epoch): CreateTime, so consumers see when the
//              gateway took the reading, not when an outage ended
//   headers    outpost-gateway  the gateway id        } together the record's identity: the cloud
//              outpost-seq      the outbox sequence   } side drops duplicates by it (at least once)
//              outpost-topic    the original MQTT topic
//              outpost-origin   the client id or device name it came from ('' if unknown)
//
// Header values are UTF-8; the sequence number is in decimal, as the MQTT forwarder's user property.
import type { MessageToProduce } from '@platformatic/kafka'
import type { StoredRecord } from '../../store/record-codec.js'

export type KafkaMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>

export const HEADER_GATEWAY = 'outpost-gateway'
export const HEADER_SEQ = 'outpost-seq'
export const HEADER_TOPIC = 'outpost-topic'
export const HEADER_ORIGIN = 'outpost-origin'

const GATEWAY = Buffer.from(HEADER_GATEWAY)
const SEQ = Buffer.from(HEADER_SEQ)
const TOPIC = Buffer.from(HEADER_TOPIC)
const ORIGIN = Buffer.from(HEADER_ORIGIN)

/** Where a record goes on `upstream`: its topic there and its key, or undefined if not routed there. */
export function kafkaDestination(
  r: StoredRecord,
  upstream: string,
): { topic: string; key: string | undefined } | undefined {
  if (r.to === 'all') return { topic: r.topic, key: undefined }
  for (const d of r.to) if (d.upstream === upstream) return { topic: d.topic ?? r.topic, key: d.key }
  return undefined
}

const fresh = (text: string): Buffer => Buffer.from(text)

/**
 * The message for `r` on `upstream`, or undefined when the record is not routed there. `gatewayId`
 * is passed as bytes: it is the same for every record, so it is encoded once by the caller.
 */
export function toKafkaMessage(
  r: StoredRecord,
  upstream: string,
  gatewayId: Buffer,
  utf8: (text: string) => Buffer = fresh,
): KafkaMessage | undefined {
  const dest = kafkaDestination(r, upstream)
  return dest === undefined ? undefined : kafkaMessage(r, dest, gatewayId, utf8)
}

/**
 * The message for `r` going to `dest` (its kafkaDestination). `utf8` encodes the key, the MQTT topic
 * and the origin: a cache (utf8-cache.ts) shares the bytes of strings that recur.
 */
export function kafkaMessage(
  r: StoredRecord,
  dest: { topic: string; key: string | undefined },
  gatewayId: Buffer,
  utf8: (text: string) => Buffer = fresh,
): KafkaMessage {
  const payload = r.payload
  const value = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  return {
    topic: dest.topic,
    key: dest.key === undefined ? undefined : utf8(dest.key),
    value,
    timestamp: BigInt(Math.trunc(r.ts)),
    headers: new Map([
      [GATEWAY, gatewayId],
      [SEQ, Buffer.from(String(r.seq))],
      [TOPIC, utf8(r.topic)],
      [ORIGIN, utf8(r.origin)],
    ]),
  }
}
