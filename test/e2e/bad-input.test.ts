// Issue #3: bad input disconnects only its sender, is counted and logged, and never stops the others:
// a malformed packet, a packet over maxPacketBytes, a broken remaining length, and a publish to $SYS/.
import { type Socket, connect as tcpConnect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { cloudGatewayPerFile } from '../helpers/cloud-gateway.js'
import { haveMosquitto } from '../helpers/e2e.js'
import { rawConnect } from '../helpers/raw-packets.js'

/** Sends raw bytes after a CONNECT and resolves when the gateway closes the socket. */
function sendRaw(port: number, id: string, bytes: Buffer): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve) => {
    const socket: Socket = tcpConnect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      resolve({ closed: false, received })
    }, 5000)
    socket.on('data', (d) => {
      received = Buffer.concat([received, d])
      if (received[0] === 0x20) socket.write(bytes) // after CONNACK
    })
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ closed: true, received })
    })
    socket.on('error', () => undefined) // the close that follows is what the test observes
    socket.write(rawConnect(Buffer.from(id)))
  })
}

describe.runIf(haveMosquitto())('bad input', () => {
  const { start, connect } = cloudGatewayPerFile()

  it('disconnects the offender only, counts and logs it, and keeps serving everyone else', async () => {
    const { cloud, gateway: gw } = await start({
      broker: {
        listeners: [{ type: 'tcp', host: '127.0.0.1', port: 0 }],
        allowAnonymous: true,
        maxPacketBytes: 1024,
      },
      http: { enabled: true, host: '127.0.0.1', port: 0 },
    })

    // A well-behaved device publishes throughout.
    const good = await connect(gw.url, { clientId: 'good' })
    let goodAcked = 0
    let stop = false
    const goodLoop = (async () => {
      while (!stop && goodAcked < 5000) {
        await good.publishAsync('sensors/good/telemetry', `r${goodAcked}`, { qos: 1 })
        goodAcked++
      }
    })()

    // 1. Malformed: a PUBLISH with both QoS bits set [MQTT-3.3.1-4].
    const malformed = await sendRaw(
      gw.port,
      'bad-qos',
      Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]),
    )
    expect(malformed.closed).toBe(true)
    // 2. A remaining length with a fifth continuation byte.
    const broken = await sendRaw(gw.port, 'bad-length', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))
    expect(broken.closed).toBe(true)
    // 3. Over maxPacketBytes (1024): announced 4 KB, closed from the header alone.
    const big = await connect(gw.url, { clientId: 'too-big', reconnectPeriod: 0 })
    const bigClosed = new Promise<void>((resolve) => big.once('close', () => resolve()))
    big.publish('sensors/big/telemetry', Buffer.alloc(4096, 1), { qos: 1 })
    await bigClosed
    // 4. $SYS/ is reserved: no PUBACK, disconnected.
    const sys = await connect(gw.url, { clientId: 'sys', reconnectPeriod: 0 })
    const sysClosed = new Promise<void>((resolve) => sys.once('close', () => resolve()))
    let sysAcked = false
    sys.publish('$SYS/broker/uptime', 'forged', { qos: 1 }, (err) => {
      sysAcked = !err
    })
    await sysClosed
    expect(sysAcked).toBe(false)

    stop = true
    await goodLoop
    expect(goodAcked).toBeGreaterThan(0)
    await cloud.sink.waitFor(() => cloud.sink.messages.length >= goodAcked, 20_000)
    const topics = new Set(cloud.sink.messages.map((m) => m.topic))
    expect(topics).toEqual(new Set(['sensors/good/telemetry']))

    const status = await gw.status()
    expect(status.broker.malformedPackets).toBe(2)
    expect(status.broker.oversizedPackets).toBe(1)
    expect(status.broker.refusedReservedTopic).toBe(1)
    expect(status.outbox.lastSeq).toBe(goodAcked)
    const warned = gw.logs.filter((l) => l.level === 'warn').map((l) => l.msg)
    expect(warned).toContain('packet over maxPacketBytes: client disconnected')
    expect(
      warned.filter(
        (m) => m === 'protocol error: client disconnected' || m === 'malformed packet: client disconnected',
      ),
    ).toHaveLength(2)
    expect(good.connected).toBe(true)
    expect(await gw.stop()).toBe(0)
  })
})
