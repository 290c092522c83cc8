// Issue #7, item 6 (broker part): counters that tell the truth. The connections gauge is the number of
// client sockets open — however they end: mid-handshake, taken over by the same client id, refused —
// and connections closed by a timeout are counted as such, not as malformed packets.
import { connect } from 'mqtt'
import { describe, expect, test } from 'vitest'
import { prng } from '../../helpers/prng.js'
import { rawConnect } from '../../helpers/raw-packets.js'
import { RawSocket } from '../../helpers/raw-socket.js'
import { connectClient, gatewaysPerTest, sleep, until } from './harness.js'

const { pool, start } = gatewaysPerTest()

describe('connection counters', () => {
  test('the connections gauge returns to the open socket count after connections that race, take over and vanish mid-handshake', async () => {
    const seed = Number(process.env.OUTPOST_TEST_SEED ?? 0x0c0ffee)
    console.info(`seed ${seed} (OUTPOST_TEST_SEED to replay)`)
    const random = prng(seed)
    const gw = await start()
    const steady = pool.add(await connectClient(gw.url, { clientId: 'steady' }))

    // 150 connections over five client ids, each closed 0-4 ms after its CONNECT: some before CONNACK,
    // some while another connection with the same id is being registered or taken over.
    const sockets: Promise<void>[] = []
    for (let i = 0; i < 150; i++) {
      const id = `racer-${Math.floor(random() * 5)}`
      const delayMs = Math.floor(random() * 5)
      sockets.push(
        (async () => {
          const raw = await RawSocket.open(gw.port)
          raw.write(rawConnect(Buffer.from(id)))
          await sleep(delayMs)
          await raw.destroy()
        })(),
      )
      if (i % 10 === 9) await sleep(2)
    }
    await Promise.all(sockets)
    // Two connections taking over a connected client id at once (aedes unregisters the wrong one, and
    // its own client/clientDisconnect events then miss one close: before the fix, +1 every round).
    for (let round = 0; round < 3; round++) {
      const holder = pool.add(await connectClient(gw.url, { clientId: 'twin' }))
      await holder.subscribeAsync('cmd/twin/#')
      const c1 = await RawSocket.open(gw.port) // one after the other: c1's CONNECT is read first
      const c2 = await RawSocket.open(gw.port)
      c1.write(rawConnect(Buffer.from('twin')))
      c2.write(rawConnect(Buffer.from('twin')))
      await sleep(100)
      await c1.destroy()
      await c2.destroy()
      await holder.endAsync(true)
    }
    // And mqtt.js clients doing the same.
    const a = pool.add(connect(gw.url, { clientId: 'twin', reconnectPeriod: 0 }))
    const b = pool.add(connect(gw.url, { clientId: 'twin', reconnectPeriod: 0 }))
    a.on('error', () => undefined)
    b.on('error', () => undefined)
    await sleep(300)
    a.end(true)
    b.end(true)

    expect(await until(async () => (await gw.gateway.status()).broker.connections === 1, 5000)).toBe(true)
    expect(steady.connected).toBe(true)
    expect((await gw.gateway.status()).broker.connections).toBe(1)
  })

  test('a connection that sends no CONNECT within connectTimeoutMs is closed and counted as a connect timeout', async () => {
    const gw = await start({ broker: { connectTimeoutMs: 300 } })
    const silent = await RawSocket.open(gw.port)
    expect(await silent.waitClosed(3000)).toBe(true)
    expect(await until(async () => (await gw.gateway.status()).broker.connections === 0, 2000)).toBe(true)
    const status = await gw.gateway.status()
    expect(status.broker.connectTimeouts).toBe(1)
    expect(status.broker.malformedPackets).toBe(0)
    expect(status.broker.connections).toBe(0)
    expect(gw.logs.messages('warn')).toContain('no CONNECT in time: connection closed')
  })

  test('a client silent past its keep alive is counted as a keep-alive timeout, not as malformed', async () => {
    const gw = await start()
    const raw = await RawSocket.open(gw.port)
    // CONNECT with keep alive 1 s, then silence: aedes closes it after 1.5 s [MQTT-3.1.2-24].
    const connectPacket = rawConnect(Buffer.from('sleepy'))
    connectPacket.writeUInt16BE(1, 10) // keep alive field of the variable header
    raw.write(connectPacket)
    expect(await raw.waitClosed(5000)).toBe(true)
    const status = await gw.gateway.status()
    expect(status.broker.malformedPackets).toBe(0)
    expect(status.broker.keepaliveTimeouts).toBe(1)
  })
})
