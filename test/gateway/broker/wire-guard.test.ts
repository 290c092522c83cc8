// The wire guard on real MQTT packets (made with mqtt-packet, the codec aedes uses), however the bytes
// are chunked: broker.maxPacketBytes from the fixed headers alone [MQTT-2.2] (the first packet over the
// limit, with its exact size; a remaining length longer than 4 bytes), and the raw bytes of PUBLISH
// topics and of a CONNECT's client id and will topic (config/topic-chars.ts).
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { generate, type Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import { guardWire, WireScanner, type WireVerdict } from '../../../gateway/broker/wire-guard.js'
import { prng } from '../../helpers/prng.js'
import { bytes, rawConnect, rawPublish } from '../../helpers/raw-packets.js'
import { RawSocket } from '../../helpers/raw-socket.js'
import { gatewaysPerTest, readOutbox } from './harness.js'

const LIMIT = 300

function publish(payloadBytes: number, topic = 'sensors/s1/telemetry', version: 4 | 5 = 4): Buffer {
  const packet: Packet = {
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(payloadBytes, 0x61),
    qos: 1,
    messageId: 7,
    retain: false,
    dup: false,
    ...(version === 5 ? { properties: { userProperties: { k: 'v' } } } : {}),
  }
  return generate(packet, { protocolVersion: version })
}

/** A QoS 1 publish exactly `total` bytes long on the wire. */
function publishOfSize(total: number): Buffer {
  for (let payload = Math.max(0, total - 40); payload <= total; payload++) {
    const packet = publish(payload)
    if (packet.length === total) return packet
  }
  throw new Error(`no publish packet is exactly ${total} bytes`)
}

/** Bytes of the fixed header: type byte + remaining length bytes. */
function headerBytes(packet: Buffer): number {
  let i = 1
  while (((packet[i] as number) & 0x80) !== 0) i++
  return i + 1
}

/** A session's worth of real packets, each under LIMIT, with 1- and 2-byte remaining lengths. */
function sessionUnderLimit(): Buffer[] {
  return [
    generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'sensor-1',
      clean: true,
      keepalive: 30,
      username: 'sensor-1',
      password: Buffer.from('secret'),
    }),
    generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/sensor-1/#', qos: 1 }] }),
    publish(0),
    publish(20),
    generate({ cmd: 'pingreq' }),
    publish(150), // remaining length > 127: two length bytes
    publish(100, 'sensors/s1/v5', 5),
    generate({ cmd: 'puback', messageId: 3 }),
    publishOfSize(LIMIT), // exactly at the limit: allowed
    generate({ cmd: 'pingreq' }),
  ]
}

/** Every way we chunk a stream: split at each position, byte by byte, and seeded random chunkings. */
function chunkings(stream: Buffer): { name: string; chunks: Buffer[] }[] {
  const out: { name: string; chunks: Buffer[] }[] = [{ name: 'whole', chunks: [stream] }]
  for (let i = 1; i < stream.length; i++) {
    out.push({ name: `split at ${i}`, chunks: [stream.subarray(0, i), stream.subarray(i)] })
  }
  out.push({
    name: 'byte by byte',
    chunks: Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1)),
  })
  for (let seed = 1; seed <= 50; seed++) {
    const random = prng(seed)
    const chunks: Buffer[] = []
    for (let at = 0; at < stream.length; ) {
      const n = 1 + Math.floor(random() * 40)
      chunks.push(stream.subarray(at, at + n))
      at += n
    }
    out.push({ name: `random chunks, seed ${seed}`, chunks })
  }
  return out
}

/** Feeds the chunks until a verdict; returns it with the index of the chunk that produced it. */
function scan(limit: number, chunks: readonly Buffer[]): { verdict: WireVerdict | undefined; chunk: number } {
  const scanner = new WireScanner(limit)
  for (const [i, chunk] of chunks.entries()) {
    const verdict = scanner.feed(chunk)
    if (verdict) return { verdict, chunk: i }
  }
  return { verdict: undefined, chunk: -1 }
}

/** Index of the chunk holding byte `offset` of the stream. */
function chunkHolding(chunks: readonly Buffer[], offset: number): number {
  let end = 0
  for (const [i, chunk] of chunks.entries()) {
    end += chunk.length
    if (offset < end) return i
  }
  return -1
}

describe('WireScanner: packet sizes', () => {
  test('packets at or under the limit pass, however the stream is chunked', () => {
    const stream = Buffer.concat(sessionUnderLimit())
    for (const { name, chunks } of chunkings(stream)) {
      expect(scan(LIMIT, chunks).verdict, name).toBeUndefined()
    }
  })

  test('the first packet over the limit is reported with its exact size, as soon as its header is read', () => {
    const before = sessionUnderLimit()
    const big = publishOfSize(LIMIT + 1)
    const after = publish(5000) // also over the limit: must not be the one reported
    const stream = Buffer.concat([...before, big, after])
    const headerEnd = Buffer.concat(before).length + headerBytes(big) - 1
    for (const { name, chunks } of chunkings(stream)) {
      const { verdict, chunk } = scan(LIMIT, chunks)
      expect(verdict, name).toEqual({ kind: 'oversized', bytes: LIMIT + 1 })
      expect(chunk, `${name}: reported in the chunk holding the last header byte`).toBe(
        chunkHolding(chunks, headerEnd),
      )
    }
  })

  test('a large packet is measured from its header alone (3- and 4-byte remaining lengths)', () => {
    const big = publish(20_000) // remaining length needs 3 bytes
    expect(headerBytes(big)).toBe(4)
    expect(scan(big.length, [big]).verdict).toBeUndefined()
    expect(scan(big.length - 1, [big.subarray(0, headerBytes(big))]).verdict).toEqual({
      kind: 'oversized',
      bytes: big.length,
    })
    // The largest remaining length there is (268,435,455): announced in 5 bytes, never sent.
    const huge = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])
    expect(scan(LIMIT, [huge]).verdict).toEqual({ kind: 'oversized', bytes: 1 + 4 + 268_435_455 })
  })

  test('a remaining length of 5 bytes is malformed, reported at its 4th length byte', () => {
    const before = sessionUnderLimit()
    const bad = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01, 0x00, 0x01, 0x61])
    const stream = Buffer.concat([...before, bad])
    const fourthLengthByte = Buffer.concat(before).length + 4
    for (const { name, chunks } of chunkings(stream)) {
      const { verdict, chunk } = scan(1 << 30, chunks)
      expect(verdict?.kind, name).toBe('malformed')
      expect(verdict?.kind === 'malformed' ? verdict.reason : '').toMatch(/longer than 4 bytes/)
      expect(chunk, name).toBe(chunkHolding(chunks, fourthLengthByte))
    }
  })

  test('zero-length packets back to back (PINGREQ, DISCONNECT) are headers only', () => {
    const stream = Buffer.concat([
      generate({ cmd: 'pingreq' }),
      generate({ cmd: 'pingreq' }),
      generate({ cmd: 'disconnect' }),
      publish(0),
    ])
    expect(generate({ cmd: 'pingreq' })).toHaveLength(2)
    for (const { name, chunks } of chunkings(stream)) {
      expect(scan(2, chunks).verdict, name).toEqual({ kind: 'oversized', bytes: publish(0).length })
    }
  })
})

describe('WireScanner: strings aedes would decode lossily', () => {
  test('a PUBLISH topic that is not allowed is reported with its ordinal, however the stream is chunked', () => {
    const before = sessionUnderLimit() // publishes 1-5 of the connection
    const bad = rawPublish(bytes('a/', 0xc3, 0x28), 'x') // the 6th
    const stream = Buffer.concat([...before, bad, rawPublish(Buffer.from('fine'), 'y')])
    for (const { name, chunks } of chunkings(stream)) {
      const { verdict } = scan(1 << 20, chunks)
      expect(verdict, name).toEqual({
        kind: 'bad_topic',
        publish: 6,
        problem: expect.stringMatching(/truncated/),
      })
    }
  })

  test('a topic whose last character is cut off by the end of the topic is refused', () => {
    const stream = Buffer.concat([
      rawConnect(Buffer.from('c')),
      rawPublish(bytes('a/', 0xe2, 0x82), 'payload'),
    ])
    for (const { name, chunks } of chunkings(stream)) {
      expect(scan(1 << 20, chunks).verdict, name).toMatchObject({ kind: 'bad_topic', publish: 1 })
    }
  })

  test('allowed topics (UTF-8, U+FFFD, 4-byte characters) and QoS 0/1/2 publishes pass', () => {
    const stream = Buffer.concat([
      rawConnect(Buffer.from('dev-é')),
      rawPublish(Buffer.from('caf\u00e9/\u20ac/\ufffd/\u{1F600}'), 'x', 0),
      rawPublish(Buffer.from('a'), '', 1, 9),
      rawPublish(Buffer.from('b/c'), 'zz', 2, 10),
    ])
    for (const { name, chunks } of chunkings(stream))
      expect(scan(1 << 20, chunks).verdict, name).toBeUndefined()
  })

  test('a topic length running past its PUBLISH is malformed', () => {
    const lying = Buffer.from([0x30, 0x05, 0x00, 0x09, 0x61, 0x62, 0x63])
    expect(scan(1 << 20, [lying]).verdict).toEqual({
      kind: 'malformed',
      reason: 'topic longer than its PUBLISH',
    })
    expect(scan(1 << 20, [Buffer.from([0x30, 0x01, 0x00])]).verdict).toMatchObject({ kind: 'malformed' })
  })

  test('a CONNECT with a client id or will topic that is not allowed is reported', () => {
    const badId = rawConnect(bytes('dev', 0x01))
    const badWill = rawConnect(Buffer.from('ok'), { topic: bytes('w/', 0x00), payload: Buffer.from('x') })
    const wildWill = rawConnect(Buffer.from('ok'), { topic: Buffer.from('w/#'), payload: Buffer.from('x') })
    const goodWill = rawConnect(Buffer.from('dev+1#'), {
      topic: Buffer.from('w/ok'),
      payload: Buffer.from('x'),
    })
    for (const { name, chunks } of chunkings(badId)) {
      expect(scan(1 << 20, chunks).verdict, name).toMatchObject({ kind: 'bad_client_id' })
    }
    for (const { name, chunks } of chunkings(badWill)) {
      expect(scan(1 << 20, chunks).verdict, name).toMatchObject({ kind: 'bad_will_topic' })
    }
    expect(scan(1 << 20, [wildWill]).verdict).toMatchObject({ kind: 'bad_will_topic' })
    expect(scan(1 << 20, [goodWill]).verdict).toBeUndefined()
  })

  // Found by the fuzz suite: mqtt-packet reads a level byte with the high bit set (a bridge) as that
  // level, and aedes accepts it; the client id then reached mosquitto as a user property and poisoned
  // the upstream.
  test('a bridge-mode CONNECT (level 0x84 or 0x83) is checked like any other', () => {
    for (const level of [0x84, 0x83]) {
      const badId = rawConnect(bytes('fz', 0x01))
      badId[8] = level // fixed header (2) + protocol name (6): the level byte
      expect(scan(1 << 20, [badId]).verdict, `level ${level}`).toMatchObject({ kind: 'bad_client_id' })
    }
  })
})

describe('guardWire on a real socket', () => {
  const servers: Server[] = []
  const sockets: Socket[] = []
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy()
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  })

  test('reports once, at the first oversized header, while the broker reads the socket its own way', async () => {
    const verdicts: WireVerdict[] = []
    let consumed = 0
    const reported = new Promise<void>((resolve) => {
      const server = createServer((socket) => {
        sockets.push(socket)
        // How aedes reads: a 'readable' listener pulling with read(); the guard is attached after it.
        socket.on('readable', () => {
          for (
            let chunk = socket.read() as Buffer | null;
            chunk !== null;
            chunk = socket.read() as Buffer | null
          )
            consumed += chunk.length
        })
        guardWire(socket, LIMIT, (v) => {
          verdicts.push(v)
          resolve()
        })
      })
      servers.push(server)
      server.listen(0, '127.0.0.1')
    })
    const server = servers[0] as Server
    if (!server.listening) await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const client = createConnection({ port, host: '127.0.0.1' })
    sockets.push(client)
    await once(client, 'connect')
    const small = Buffer.concat(sessionUnderLimit())
    client.write(small)
    // Only the header of a 200 MB publish: the guard must not wait for (or buffer) its body.
    const hugeHeader = Buffer.from([0x30, 0x80, 0x80, 0xe4, 0x5f])
    client.write(hugeHeader)
    client.write(publishOfSize(LIMIT + 50)) // more violations later: reported only once
    await reported
    await new Promise((resolve) => setTimeout(resolve, 50))
    const announced = 0x64 * 128 ** 2 + 0x5f * 128 ** 3 // 200,867,840 bytes
    expect(verdicts).toEqual([{ kind: 'oversized', bytes: 1 + 4 + announced }])
    expect(consumed).toBeGreaterThanOrEqual(small.length + hugeHeader.length)
  })
})

describe('a bad topic on a real gateway', () => {
  const { start } = gatewaysPerTest()

  // Found by the fuzz suite (seed 926552508): aedes queues what arrives with a CONNECT until its CONNACK;
  // a second CONNECT in that queue closes the client, but aedes goes on dispatching the rest of the
  // queue — to a closed client, which the gateway took for a will and so did not check.
  test('a bad topic queued behind a second CONNECT is not stored (nothing of that connection is)', async () => {
    const gw = await start()
    const raw = await RawSocket.open(gw.port)
    raw.write(
      Buffer.concat([
        rawConnect(Buffer.from('twice')),
        // A subscription makes closing the client take a moment (aedes unsubscribes it first)…
        generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'cmd/twice/#', qos: 1 }] }),
        rawConnect(Buffer.from('twice')), // …and a second CONNECT closes it [MQTT-3.1.0-2]
        rawPublish(bytes('bad/', 0x00), 'poison', 2, 7),
        rawPublish(Buffer.from('good/after'), 'after', 1, 8),
      ]),
    )
    expect(await raw.waitClosed(3000)).toBe(true)
    await raw.destroy()
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map((r) => r.topic)).toEqual([])
  })

  // Also found by fuzzing: aedes may handle a PUBLISH read while the CONNECT is being processed before
  // those it queued from the CONNECT's own read, so "refuse the n-th PUBLISH" could refuse a good one and
  // store the bad one. (Which order aedes picks depends on how reads fall; this checks the outcome.)
  test('a bad topic read while the CONNECT is being processed is not stored, whatever aedes handles first', async () => {
    const gw = await start()
    for (let i = 0; i < 20; i++) {
      const raw = await RawSocket.open(gw.port)
      raw.write(
        Buffer.concat([rawConnect(Buffer.from(`order-${i}`)), rawPublish(Buffer.from('good/1'), 'g', 1, 1)]),
      )
      raw.write(rawPublish(bytes('bad/', 0x00), 'poison', 1, 2)) // a second write: usually a second read
      expect(await raw.waitClosed(3000)).toBe(true)
      await raw.destroy()
    }
    await gw.stop()
    const topics = (await readOutbox(gw.dataDir)).map((r) => r.topic)
    expect(topics.filter((t) => t.includes('\u0000'))).toEqual([])
  })
})
