// One readiness probe of a Kafka broker, for start.sh: exits 0 when the broker answers a Metadata request
// with itself as a live broker and a leader for every partition of the probe topic (which the request
// asks the broker to auto-create), 1 otherwise. No dependencies: start.sh runs before `npm ci`.
//
//   node ready.mjs HOST PORT [TOPIC]
import net from 'node:net'

const [host = '127.0.0.1', port = '9092', topic = 'outpost-ready'] = process.argv.slice(2)
const ATTEMPT_MS = 2000

// MetadataRequest v4 (non-flexible), after the 4-byte size prefix:
//   int16 api_key = 3, int16 api_version = 4, int32 correlation_id, string client_id
//   [topics] int32 count, then string name   (string = int16 length + UTF-8 bytes)
//   int8 allow_auto_topic_creation
function request() {
  const client = Buffer.from('outpost-ready')
  const name = Buffer.from(topic)
  const body = Buffer.alloc(2 + 2 + 4 + 2 + client.length + 4 + 2 + name.length + 1)
  let p = body.writeInt16BE(3, 0)
  p = body.writeInt16BE(4, p)
  p = body.writeInt32BE(1, p)
  p = body.writeInt16BE(client.length, p)
  p += client.copy(body, p)
  p = body.writeInt32BE(1, p)
  p = body.writeInt16BE(name.length, p)
  p += name.copy(body, p)
  body.writeInt8(1, p)
  const size = Buffer.alloc(4)
  size.writeInt32BE(body.length)
  return Buffer.concat([size, body])
}

// MetadataResponse v4, after the size prefix and int32 correlation_id:
//   int32 throttle_time_ms
//   [brokers] int32 node_id, string host, int32 port, nullable string rack
//   nullable string cluster_id, int32 controller_id
//   [topics] int16 error_code, string name, int8 is_internal,
//            [partitions] int16 error_code, int32 index, int32 leader, [int32] replicas, [int32] isr,
//                         [int32] offline
function ready(buf) {
  let p = 4 + 4
  const i16 = () => {
    p += 2
    return buf.readInt16BE(p - 2)
  }
  const i32 = () => {
    p += 4
    return buf.readInt32BE(p - 4)
  }
  const str = () => {
    const n = i16()
    if (n > 0) p += n
  }
  const skipInt32s = () => {
    p += 4 * i32()
  }
  i32()
  const brokers = i32()
  for (let i = 0; i < brokers; i++) {
    i32()
    str()
    i32()
    str()
  }
  str()
  i32()
  const topics = i32()
  let ok = brokers > 0 && topics === 1
  for (let t = 0; t < topics; t++) {
    if (i16() !== 0) ok = false
    str()
    p += 1
    const partitions = i32()
    if (partitions === 0) ok = false
    for (let q = 0; q < partitions; q++) {
      if (i16() !== 0) ok = false
      i32()
      if (i32() < 0) ok = false
      skipInt32s()
      skipInt32s()
      skipInt32s()
    }
  }
  return ok
}

const socket = net.connect({ host, port: Number(port) })
const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${ATTEMPT_MS} ms`)), ATTEMPT_MS)
let received = Buffer.alloc(0)
socket.on('connect', () => socket.write(request()))
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk])
  if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return
  clearTimeout(timer)
  socket.end()
  process.exitCode = ready(received) ? 0 : 1
})
socket.on('error', () => {
  clearTimeout(timer)
  process.exitCode = 1
})
socket.on('close', () => {
  clearTimeout(timer)
  if (process.exitCode === undefined) process.exitCode = 1
})
