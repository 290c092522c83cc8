// A misbehaving device for tests and benchmarks: one raw MQTT 3.1.1 connection writing QoS 0 PUBLISH
// packets as fast as TCP takes them (pre-encoded, so one core of it outruns any broker), for a bounded
// time and count. It stops gracefully — DISCONNECT, then FIN after the last byte — so the broker reads
// everything that was written: then `sent` is exactly what the broker received. If the broker closes
// the connection first, what was still in flight is unknown and `sent` is an upper bound; with
// `reconnect` it connects again and keeps flooding until the time is up, as a broken device would.
import { connect, type Socket } from 'node:net'
import { rawConnect, rawPublish } from './raw-packets.js'

export interface FloodOptions {
  host?: string
  port: number
  clientId: string
  topic: string
  payloadBytes: number
  seconds: number
  /** Upper bound on messages, whatever the time (default 50 million). */
  maxMessages?: number
  reconnect?: boolean
}

export interface FloodResult {
  /** PUBLISH packets handed to the socket. */
  sent: number
  seconds: number
  /** Connections the broker closed before the flooder was done. */
  closedByBroker: number
  connections: number
}

/** PUBLISH packets per write. */
const PER_CHUNK = 256
const DISCONNECT = Buffer.from([0xe0, 0x00])

export async function flood(opts: FloodOptions): Promise<FloodResult> {
  const chunk = encodeChunk(opts.topic, opts.payloadBytes)
  const max = opts.maxMessages ?? 50_000_000
  const started = performance.now()
  const deadline = started + opts.seconds * 1000
  const result: FloodResult = { sent: 0, seconds: 0, closedByBroker: 0, connections: 0 }
  while (performance.now() < deadline && result.sent < max) {
    const socket = await open(opts.host ?? '127.0.0.1', opts.port, opts.clientId)
    result.connections++
    let closed = false
    let reset = false
    const whenClosed = new Promise<void>((resolve) =>
      socket.once('close', (hadError) => {
        closed = true
        reset = hadError
        resolve()
      }),
    )
    socket.on('error', () => undefined) // a reset by the broker: the close that follows is counted
    while (!closed && performance.now() < deadline && result.sent < max) {
      const n = Math.min(PER_CHUNK, max - result.sent)
      const ok = socket.write(n === PER_CHUNK ? chunk : chunk.subarray(0, (chunk.length / PER_CHUNK) * n))
      result.sent += n
      if (!ok) {
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), whenClosed])
      }
    }
    if (closed) {
      result.closedByBroker++
      if (!opts.reconnect) break
      continue
    }
    // Done: the broker reads up to the DISCONNECT and closes; bounded in case it does not. A reset
    // instead means it closed with our bytes unread (it disconnected us first).
    socket.end(DISCONNECT)
    const timer = setTimeout(() => socket.destroy(), 60_000)
    await whenClosed
    clearTimeout(timer)
    if (reset) result.closedByBroker++
  }
  result.seconds = (performance.now() - started) / 1000
  return result
}

function open(host: string, port: number, clientId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true })
    const timer = setTimeout(() => fail(new Error('no CONNACK within 10 s')), 10_000)
    const fail = (err: Error) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.once('error', fail)
    socket.once('connect', () => socket.write(rawConnect(Buffer.from(clientId))))
    socket.once('data', (d: Buffer) => {
      clearTimeout(timer)
      socket.removeListener('error', fail)
      // CONNACK [MQTT-3.2]: 0x20 0x02, session present, return code.
      if (d[0] !== 0x20 || d[3] !== 0) fail(new Error(`connection refused: ${d.toString('hex')}`))
      else resolve(socket)
    })
  })
}

// PER_CHUNK PUBLISH packets [MQTT-3.3] of QoS 0 (no packet id), each with payloadBytes of "x".
function encodeChunk(topic: string, payloadBytes: number): Buffer {
  const one = rawPublish(Buffer.from(topic), Buffer.alloc(payloadBytes, 0x78), 0)
  return Buffer.concat(Array.from({ length: PER_CHUNK }, () => one))
}
