// MQTT 3.1.1 packets encoded by hand: for tests, the bytes mqtt-packet will not produce (a topic that is
// not valid UTF-8, a will topic with a NUL, a client id with a control character); for the load
// generators (qos0-flooder.ts, scripts/bench/raw-publisher.ts), packets without a parser library.
// Grammar: [MQTT-2.2] fixed header (type and flags, Remaining Length as a variable byte integer
// [MQTT-2.2.3]), then the variable header and payload of each packet type.

/** Remaining Length as a variable byte integer [MQTT-2.2.3]. */
export function remainingLength(n: number): number[] {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return out
}

/** A u16 length prefix and the bytes [MQTT-1.5.3]. */
export function lengthPrefixed(bytes: Buffer): Buffer {
  const len = Buffer.alloc(2)
  len.writeUInt16BE(bytes.length)
  return Buffer.concat([len, bytes])
}

/** PUBLISH [MQTT-3.3] with the topic given as raw bytes; QoS 1/2 carry packet id `id`. */
export function rawPublish(topic: Buffer, payload: Buffer | string, qos: 0 | 1 | 2 = 1, id = 1): Buffer {
  const idBytes = qos > 0 ? Buffer.from([id >> 8, id & 0xff]) : Buffer.alloc(0)
  const body = Buffer.concat([lengthPrefixed(topic), idBytes, Buffer.from(payload)])
  return Buffer.concat([Buffer.from([0x30 | (qos << 1), ...remainingLength(body.length)]), body])
}

/** The Keep Alive of rawConnect's CONNECT: a client that keeps its connection pings at half of it. */
export const RAW_CONNECT_KEEPALIVE_SEC = 60

/** CONNECT [MQTT-3.1] (level 4, clean session, keep alive 60) with raw client id and will topic bytes. */
export function rawConnect(clientId: Buffer, will?: { topic: Buffer; payload: Buffer }): Buffer {
  const flags = 0x02 | (will ? 0x04 | 0x08 : 0) // clean session; will flag, will QoS 1
  const body = Buffer.concat([
    lengthPrefixed(Buffer.from('MQTT')),
    Buffer.from([0x04, flags, RAW_CONNECT_KEEPALIVE_SEC >> 8, RAW_CONNECT_KEEPALIVE_SEC & 0xff]),
    lengthPrefixed(clientId),
    ...(will ? [lengthPrefixed(will.topic), lengthPrefixed(will.payload)] : []),
  ])
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body])
}

/** The bytes of a string followed by raw bytes: `bytes('a/', 0x00, '/b')`. */
export function bytes(...parts: Array<string | number>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from([p]))))
}
