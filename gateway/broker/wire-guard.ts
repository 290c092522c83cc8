// Reads each client's bytes as aedes reads them, before aedes parses them, and stops what must not get
// in: a packet over broker.maxPacketBytes (mqtt-packet buffers a whole packet before parsing it, so a
// client announcing 200 MB would make the gateway allocate 200 MB), a broken remaining length, and
// strings aedes would decode lossily: a PUBLISH topic or a CONNECT's client id or will topic that is not
// what config/topic-chars.ts allows (Buffer.toString turns ill-formed UTF-8 into U+FFFD silently, so
// only the raw bytes can tell). Everything else goes by untouched and is never buffered.
//
// Fixed header [MQTT-2.2]: byte 1 = type (high nibble) and flags, then Remaining Length as a variable
// byte integer (7 bits a byte, least significant first, high bit = "more bytes follow", at most 4
// bytes) [MQTT-2.2.3]; the packet is 1 + (length bytes) + Remaining Length bytes long.
// PUBLISH [MQTT-3.3.2]: the variable header starts with the topic name, a u16 length and the bytes.
// CONNECT: see connect-inspector.ts; it is buffered whole (once a connection, at most maxPacketBytes).
import type { Readable } from 'node:stream'
import { Utf8TopicChecker } from '../../config/topic-chars.js'
import { inspectConnect } from './connect-inspector.js'

export type WireVerdict =
  | { kind: 'oversized'; bytes: number }
  | { kind: 'malformed'; reason: string }
  /** A PUBLISH topic that is not allowed (`publish`: the how-many-th PUBLISH on the wire, from 1). */
  | { kind: 'bad_topic'; publish: number; problem: string }
  | { kind: 'bad_will_topic'; problem: string }
  | { kind: 'bad_client_id'; problem: string }

const CONNECT = 1
const PUBLISH = 3

// Scanner states (plain numbers: a switch over small integers is the cheapest dispatch per byte).
const HEADER = 0
const LENGTH = 1
const TOPIC_LENGTH = 2
const TOPIC = 3
const CONNECT_BODY = 4
const SKIP = 5

export class WireScanner {
  private state: number = HEADER
  private type = 0
  private lengthValue = 0
  private lengthBytes = 0
  private multiplier = 1
  /** Body bytes of the current packet not yet passed. */
  private left = 0
  private topicLength = 0
  private topicLengthBytes = 0
  private topicLeft = 0
  private publishes = 0
  private connectParts: Buffer[] = []
  private readonly topic = new Utf8TopicChecker()

  constructor(private readonly maxBytes: number) {}

  /** Scans the next chunk; returns a verdict at the first packet that breaks the rules. */
  feed(chunk: Uint8Array): WireVerdict | undefined {
    let i = 0
    const n = chunk.length
    while (i < n) {
      switch (this.state) {
        case SKIP: {
          const take = Math.min(this.left, n - i)
          this.left -= take
          i += take
          if (this.left === 0) this.state = HEADER
          break
        }
        case HEADER:
          this.type = (chunk[i++] as number) >> 4
          this.lengthValue = 0
          this.lengthBytes = 0
          this.multiplier = 1
          this.state = LENGTH
          break
        case LENGTH: {
          const byte = chunk[i++] as number
          this.lengthValue += (byte & 0x7f) * this.multiplier
          this.multiplier *= 128
          this.lengthBytes++
          if (byte & 0x80) {
            if (this.lengthBytes === 4)
              return { kind: 'malformed', reason: 'remaining length longer than 4 bytes' }
            break
          }
          const total = 1 + this.lengthBytes + this.lengthValue
          if (total > this.maxBytes) return { kind: 'oversized', bytes: total }
          const verdict = this.startBody()
          if (verdict !== undefined) return verdict
          break
        }
        case TOPIC_LENGTH: {
          this.topicLength = this.topicLength * 256 + (chunk[i++] as number)
          this.left--
          if (++this.topicLengthBytes < 2) break
          if (this.topicLength > this.left)
            return { kind: 'malformed', reason: 'topic longer than its PUBLISH' }
          this.topicLeft = this.topicLength
          this.topic.reset()
          this.state = TOPIC
          if (this.topicLeft === 0) this.endTopic() // empty: aedes refuses it [MQTT-4.7.3-1]
          break
        }
        case TOPIC: {
          const end = Math.min(n, i + this.topicLeft)
          const start = i
          const topic = this.topic
          if (topic.between) {
            // Printable ASCII — most topics, wholly — needs no more than a range check.
            while (i < end) {
              const b = chunk[i] as number
              if (b < 0x20 || b >= 0x7f) break
              i++
            }
          }
          for (; i < end; i++) {
            const problem = topic.feed(chunk[i] as number)
            if (problem !== undefined) return { kind: 'bad_topic', publish: this.publishes, problem }
          }
          this.topicLeft -= i - start
          this.left -= i - start
          if (this.topicLeft === 0) {
            const problem = this.topic.end()
            if (problem !== undefined) return { kind: 'bad_topic', publish: this.publishes, problem }
            this.endTopic()
          }
          break
        }
        case CONNECT_BODY: {
          const take = Math.min(this.left, n - i)
          this.connectParts.push(Buffer.from(chunk.subarray(i, i + take)))
          this.left -= take
          i += take
          if (this.left > 0) break
          this.state = HEADER
          const verdict = inspectConnect(Buffer.concat(this.connectParts))
          this.connectParts = []
          if (verdict.kind !== 'ok') return verdict
          break
        }
      }
    }
    return undefined
  }

  private startBody(): WireVerdict | undefined {
    this.left = this.lengthValue
    if (this.type === PUBLISH) {
      this.publishes++
      if (this.left < 2) return { kind: 'malformed', reason: 'PUBLISH shorter than its topic length' }
      this.topicLength = 0
      this.topicLengthBytes = 0
      this.state = TOPIC_LENGTH
    } else if (this.left === 0) {
      this.state = HEADER
    } else {
      this.state = this.type === CONNECT ? CONNECT_BODY : SKIP
    }
    return undefined
  }

  private endTopic(): void {
    this.state = this.left > 0 ? SKIP : HEADER
  }
}

/**
 * Watches what the broker reads from `stream` and calls `onVerdict` (once) at the first packet that
 * breaks the rules. Call after the broker attached its 'readable' listener: a 'data' listener added
 * then sees each chunk as the broker reads it (just before it parses it), without switching the stream
 * to flowing mode.
 */
export function guardWire(stream: Readable, maxBytes: number, onVerdict: (v: WireVerdict) => void): void {
  const scanner = new WireScanner(maxBytes)
  const onData = (chunk: Buffer) => {
    const verdict = scanner.feed(chunk)
    if (verdict) {
      stream.removeListener('data', onData)
      onVerdict(verdict)
    }
  }
  stream.on('data', onData)
}
