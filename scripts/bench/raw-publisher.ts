// A bare MQTT 3.1.1 QoS 1 publisher for load generation: hand-encoded packets, no store, no parser
// library, so one core of load can outrun the broker under test. It speaks only what it needs: CONNECT
// (clean session), PUBLISH QoS 1, PINGREQ, DISCONNECT out; CONNACK, PUBACK, PINGRESP in.
import { connect, type Socket } from 'node:net'
import { RAW_CONNECT_KEEPALIVE_SEC, rawConnect, remainingLength } from '../ci/raw-packets.js'

export type PublishCallback = (err?: Error) => void

const CONNACK = 2
const PUBACK = 4
const PINGREQ = Buffer.from([0xc0, 0x00])
const DISCONNECT = Buffer.from([0xe0, 0x00])
const MAX_PACKET_ID = 0xffff

export class RawPublisher {
  /** Callbacks of unacknowledged publishes, by packet identifier. */
  private readonly pending: Array<PublishCallback | undefined> = new Array(MAX_PACKET_ID + 1)
  private inflight = 0
  private nextId = 1
  private readonly topics = new Map<string, Buffer>()
  private corked = false
  private closed: Error | undefined
  private readonly ping: NodeJS.Timeout

  private constructor(
    private readonly socket: Socket,
    keepaliveSec: number,
  ) {
    this.ping = setInterval(() => socket.write(PINGREQ), (keepaliveSec * 1000) / 2)
    this.ping.unref()
  }

  /** Opens a TCP connection and completes the MQTT handshake (CONNACK accepted). */
  static connect(host: string, port: number, clientId: string, timeoutMs = 10_000): Promise<RawPublisher> {
    const keepaliveSec = RAW_CONNECT_KEEPALIVE_SEC
    const socket = connect({ host, port, noDelay: true })
    const publisher = new RawPublisher(socket, keepaliveSec)
    return new Promise((resolve, reject) => {
      let settled = false
      const timer = setTimeout(() => fail(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error) => {
        publisher.shutdown(err)
        if (settled) return
        settled = true
        clearTimeout(timer)
        reject(err)
      }
      publisher.onConnack = (returnCode) => {
        if (returnCode !== 0) {
          fail(new Error(`connection refused, CONNACK return code ${returnCode}`)) // [MQTT-3.2.2.3]
          return
        }
        settled = true
        clearTimeout(timer)
        resolve(publisher)
      }
      socket.on('error', fail)
      socket.on('close', () => fail(new Error('connection closed')))
      socket.once('connect', () => socket.write(rawConnect(Buffer.from(clientId))))
      let buf: Buffer = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
        buf = publisher.parse(buf)
      })
    })
  }

  private onConnack: (returnCode: number) => void = () => {}

  get unacknowledged(): number {
    return this.inflight
  }

  /** Sends a QoS 1 PUBLISH; `cb` runs on its PUBACK (or with an error if the connection ends first). */
  publish(topic: string, payload: Buffer, cb: PublishCallback): void {
    const closed = this.closed
    if (closed) {
      process.nextTick(() => cb(closed))
      return
    }
    if (this.inflight >= MAX_PACKET_ID) throw new Error('all packet identifiers in use')
    let id = this.nextId
    while (this.pending[id] !== undefined) id = id === MAX_PACKET_ID ? 1 : id + 1
    this.nextId = id === MAX_PACKET_ID ? 1 : id + 1
    this.pending[id] = cb
    this.inflight++
    // Publishes made in one tick leave in one write.
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
      process.nextTick(() => {
        this.corked = false
        this.socket.uncork()
      })
    }
    this.socket.write(encodePublish(this.topicBytes(topic), payload, id))
  }

  /** DISCONNECT and close; publishes still unacknowledged fail. */
  async end(): Promise<void> {
    if (!this.closed && !this.socket.destroyed) {
      await new Promise<void>((resolve) => {
        this.socket.once('close', () => resolve())
        this.socket.end(DISCONNECT)
        setTimeout(() => this.socket.destroy(), 2000).unref()
      })
    }
    this.shutdown(new Error('connection ended'))
  }

  private shutdown(err: Error): void {
    clearInterval(this.ping)
    if (!this.socket.destroyed) this.socket.destroy()
    if (this.closed) return
    this.closed = err
    for (let id = 1; id <= MAX_PACKET_ID && this.inflight > 0; id++) {
      const cb = this.pending[id]
      if (cb === undefined) continue
      this.pending[id] = undefined
      this.inflight--
      cb(err)
    }
  }

  /** Handles every complete packet in `buf`; returns what is left of an incomplete one. */
  private parse(buf: Buffer): Buffer {
    let pos = 0
    for (;;) {
      // Fixed header: type and flags, then Remaining Length as a variable byte integer [MQTT-2.2.3].
      if (buf.length - pos < 2) break
      let length = 0
      let multiplier = 1
      let i = pos + 1
      let complete = false
      for (; i < buf.length && i < pos + 5; i++) {
        const byte = buf[i] as number
        length += (byte & 0x7f) * multiplier
        multiplier *= 128
        if ((byte & 0x80) === 0) {
          complete = true
          i++
          break
        }
      }
      if (!complete || buf.length - i < length) break
      const type = (buf[pos] as number) >> 4
      if (type === PUBACK && length >= 2) this.acked(buf.readUInt16BE(i))
      else if (type === CONNACK && length >= 2) this.onConnack(buf[i + 1] as number)
      pos = i + length
    }
    return pos === buf.length ? Buffer.alloc(0) : buf.subarray(pos)
  }

  private acked(id: number): void {
    const cb = this.pending[id]
    if (cb === undefined) return // not ours, or acknowledged twice: nothing to do
    this.pending[id] = undefined
    this.inflight--
    cb()
  }

  private topicBytes(topic: string): Buffer {
    let bytes = this.topics.get(topic)
    if (!bytes) {
      bytes = Buffer.from(topic)
      this.topics.set(topic, bytes)
    }
    return bytes
  }
}

// PUBLISH [MQTT-3.3], QoS 1, no DUP, no RETAIN: 0x32, Remaining Length, topic (u16 length + bytes),
// packet identifier (u16), payload.
function encodePublish(topic: Buffer, payload: Buffer, id: number): Buffer {
  const remaining = 2 + topic.length + 2 + payload.length
  const header = remainingLength(remaining)
  const packet = Buffer.allocUnsafe(1 + header.length + remaining)
  let pos = 0
  packet[pos++] = 0x32
  for (const b of header) packet[pos++] = b
  packet.writeUInt16BE(topic.length, pos)
  pos += 2
  topic.copy(packet, pos)
  pos += topic.length
  packet.writeUInt16BE(id, pos)
  pos += 2
  payload.copy(packet, pos)
  return packet
}
