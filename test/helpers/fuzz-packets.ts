// Hostile input for the broker port, from a seeded PRNG (test/helpers/prng.ts) so a failing run can be
// replayed: real MQTT packets built with mqtt-packet (the codec aedes uses) and then mutated, truncated,
// given lying remaining lengths, or topics/client ids that are not allowed; and plain random bytes.
import { generate, type Packet } from 'mqtt-packet'
import { bytes, rawConnect, rawPublish, remainingLength } from './raw-packets.js'

export type Random = () => number

export interface FuzzCase {
  kind: string
  /** The bytes, in the chunks to write them in. */
  chunks: Buffer[]
  /** How long to keep the connection open after writing (ms), unless the gateway closes it first. */
  lingerMs: number
}

const int = (random: Random, n: number) => Math.floor(random() * n)
const pick = <T>(random: Random, items: readonly T[]): T => items[int(random, items.length)] as T

function randomBytes(random: Random, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = int(random, 256)
  return b
}

function randomTopic(random: Random): string {
  const levels = 1 + int(random, 4)
  return Array.from({ length: levels }, () =>
    pick(random, ['sensors', 'fz', '', '+', '#', 'a b', 'é', '$SYS', String(int(random, 100))]),
  ).join('/')
}

/** A random well-formed packet of a device's session (before any mutation). */
function randomPacket(random: Random): Packet {
  const id = 1 + int(random, 65535)
  switch (int(random, 9)) {
    case 0:
    case 1:
    case 2: {
      const qos = int(random, 3) as 0 | 1 | 2
      return {
        cmd: 'publish',
        topic: randomTopic(random),
        payload: randomBytes(random, int(random, 300)),
        qos,
        retain: random() < 0.1,
        dup: random() < 0.1,
        ...(qos > 0 ? { messageId: id } : {}),
      } as Packet
    }
    case 3:
      return {
        cmd: 'subscribe',
        messageId: id,
        subscriptions: [{ topic: randomTopic(random), qos: int(random, 3) as 0 }],
      }
    case 4:
      return { cmd: 'unsubscribe', messageId: id, unsubscriptions: [randomTopic(random)] }
    case 5:
      return { cmd: pick(random, ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const), messageId: id }
    case 6:
      return { cmd: 'pingreq' }
    case 7:
      return {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: random() < 0.5,
        clientId: `fz-${int(random, 1000)}`,
        keepalive: int(random, 120),
      }
    default:
      return { cmd: 'disconnect' }
  }
}

function encode(packet: Packet): Buffer {
  try {
    return generate(packet)
  } catch {
    return generate({ cmd: 'pingreq' }) // mqtt-packet refuses some combinations (e.g. "#" with a wildcard)
  }
}

/** Flips bits, overwrites, inserts or deletes bytes (never the first byte of a stream alone). */
function mutate(random: Random, b: Buffer): Buffer {
  const out = [...b]
  const edits = 1 + int(random, 4)
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = int(random, out.length)
    switch (int(random, 4)) {
      case 0:
        out[at] = (out[at] as number) ^ (1 << int(random, 8))
        break
      case 1:
        out[at] = int(random, 256)
        break
      case 2:
        out.splice(at, 0, int(random, 256))
        break
      default:
        out.splice(at, 1)
    }
  }
  return Buffer.from(out)
}

/** A packet whose remaining length says something else than the bytes that follow. */
function lyingLength(random: Random, packet: Buffer): Buffer {
  let i = 1
  while (i < packet.length && ((packet[i] as number) & 0x80) !== 0) i++
  const body = packet.subarray(i + 1)
  const claimed = pick(random, [
    0,
    1,
    body.length + 1 + int(random, 100),
    Math.max(0, body.length - 1 - int(random, 5)),
    int(random, 268_435_455),
  ])
  return Buffer.concat([packet.subarray(0, 1), Buffer.from(remainingLength(claimed)), body])
}

function chunked(random: Random, stream: Buffer): Buffer[] {
  if (random() < 0.5) return [stream]
  const chunks: Buffer[] = []
  for (let at = 0; at < stream.length; ) {
    const n = 1 + int(random, 64)
    chunks.push(stream.subarray(at, at + n))
    at += n
  }
  return chunks
}

const CONNECT = (random: Random) =>
  encode({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: `fz-${int(random, 1e6)}`,
    keepalive: 30,
  })

/** One hostile connection's worth of bytes. */
export function fuzzCase(random: Random): FuzzCase {
  const lingerMs = random() < 0.15 ? 500 + int(random, 1500) : int(random, 100)
  const session = () =>
    Buffer.concat(Array.from({ length: 1 + int(random, 8) }, () => encode(randomPacket(random))))
  let kind: string
  let stream: Buffer
  switch (int(random, 7)) {
    case 0:
      kind = 'random bytes'
      stream = randomBytes(random, 1 + int(random, 2000))
      break
    case 1:
      kind = 'connect, then random bytes'
      stream = Buffer.concat([CONNECT(random), randomBytes(random, 1 + int(random, 500))])
      break
    case 2:
      kind = 'mutated session'
      stream = mutate(random, Buffer.concat([CONNECT(random), session()]))
      break
    case 3: {
      kind = 'lying remaining length'
      stream = Buffer.concat([CONNECT(random), lyingLength(random, encode(randomPacket(random))), session()])
      break
    }
    case 4: {
      kind = 'truncated packet'
      const whole = Buffer.concat([CONNECT(random), session()])
      stream = whole.subarray(0, 1 + int(random, whole.length - 1))
      break
    }
    case 5: {
      kind = 'topics and ids that are not allowed'
      const badTopic = pick(random, [
        bytes('a/', 0x00),
        bytes('a/', 0xc3, 0x28),
        bytes('a/', 0x01),
        bytes('a/', 0xef, 0xbf, 0xbf),
        bytes('a/', 0xed, 0xa0, 0x80),
      ])
      stream = pick(random, [
        Buffer.concat([
          CONNECT(random),
          rawPublish(badTopic, 'x', int(random, 3) as 0, 1 + int(random, 100)),
        ]),
        rawConnect(bytes('fz', 0x07)),
        rawConnect(Buffer.from('fz-will'), { topic: badTopic, payload: Buffer.from('w') }),
        rawConnect(Buffer.from('fz+1#')),
      ])
      break
    }
    default:
      kind = 'valid session'
      stream = Buffer.concat([CONNECT(random), session()])
  }
  return { kind, chunks: chunked(random, stream), lingerMs }
}
