// broker.limits and broker.maxPendingBytes (issue #7, item 4) over real sockets: a client over its rate
// is slowed to it — its socket is not read, so TCP pushes back and nothing piles up in the gateway — a
// user's override applies to that user only, a client that stays over its limits is disconnected and
// counted, and the ingest bound holds the clients filling it while it is exceeded.
import { connect, type Socket } from 'node:net'
import { describe, expect, test } from 'vitest'
import { hashPassword } from '../../../gateway/broker/password.js'
import type { BatchWriter } from '../../../store/outbox.js'
import { rawConnect, rawPublish } from '../../helpers/raw-packets.js'
import { connectClient, gatewaysPerTest, sleep, until } from './harness.js'

const { pool, start } = gatewaysPerTest()

/** Publishes `n` QoS 1 messages all at once; resolves with the ms until the last PUBACK. */
async function burst(
  url: string,
  options: { clientId: string; username?: string; password?: string },
  n: number,
) {
  const client = pool.add(await connectClient(url, options))
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      client.publishAsync(`sensors/${options.clientId}/t`, `m${i}`, { qos: 1 }),
    ),
  )
  return performance.now() - t0
}

/** A raw connection writing QoS 0 publishes as fast as TCP takes them, until stop(). */
async function rawFlood(port: number, clientId: string) {
  const socket: Socket = connect({ port, host: '127.0.0.1' })
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  socket.on('error', () => undefined) // the close that follows is what the tests look at
  socket.write(rawConnect(Buffer.from(clientId)))
  await new Promise<void>((resolve) => socket.once('data', () => resolve()))
  const chunk = Buffer.concat(
    Array.from({ length: 200 }, () => rawPublish(Buffer.from(`sensors/${clientId}/t`), 'x'.repeat(50), 0)),
  )
  let sent = 0
  let stopped = false
  let closed = false
  socket.once('close', () => {
    closed = true
  })
  const loop = (async () => {
    while (!stopped && !closed && sent < 5_000_000) {
      sent += 200
      if (!socket.write(chunk))
        await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve))
    }
  })()
  return {
    get sent() {
      return sent
    },
    get closed() {
      return closed
    },
    async stop() {
      stopped = true
      socket.destroy()
      await loop
    },
  }
}

describe('per-client limits', () => {
  test('a client over messagesPerSec is slowed to that rate (its PUBACKs wait), and counted as held back', async () => {
    const gw = await start({ broker: { limits: { messagesPerSec: 40, burstSec: 0.25 } } })
    // 10 go at once (the burst), the other 50 at 40 a second: about 1.25 s.
    const ms = await burst(gw.url, { clientId: 'eager' }, 60)
    expect(ms).toBeGreaterThanOrEqual(1000)
    expect(ms).toBeLessThan(5000)
    const status = await gw.gateway.status()
    expect(status.broker.throttled).toBeGreaterThan(0)
    expect(status.broker.stored).toBe(60)
    expect(status.broker.throttledNow).toBe(0)
  })

  test("a user's limits override the broker's for that user only", async () => {
    const hash = await hashPassword('pw')
    const gw = await start({
      broker: {
        allowAnonymous: false,
        limits: { messagesPerSec: 40, burstSec: 0.25 },
        users: [
          { username: 'camera', passwordHash: hash, limits: { messagesPerSec: 10_000 } },
          { username: 'plain', passwordHash: hash },
        ],
      },
    })
    const camera = await burst(gw.url, { clientId: 'camera-1', username: 'camera', password: 'pw' }, 60)
    const plain = await burst(gw.url, { clientId: 'plain-1', username: 'plain', password: 'pw' }, 60)
    expect(camera).toBeLessThan(700)
    expect(plain).toBeGreaterThanOrEqual(1000)
  })

  test('while held back, the socket is not read: the flood waits in TCP, not in the gateway', async () => {
    const gw = await start({ broker: { limits: { messagesPerSec: 100, burstSec: 0.5, maxThrottledSec: 0 } } })
    const flood = await rawFlood(gw.port, 'flooder')
    await sleep(2000)
    const received = (await gw.gateway.status()).broker.publishesReceived
    // 50 of burst + 100/s for 2 s, plus what one socket read carries (a few hundred small publishes).
    expect(received).toBeLessThan(50 + 200 + 1500)
    expect(flood.sent).toBeGreaterThan(received * 3) // the rest sits in socket buffers
    expect(flood.closed).toBe(false) // maxThrottledSec 0: never disconnected
    await flood.stop()
  })

  test('a client that stays over its limits past maxThrottledSec is disconnected and counted; what it sent is stored or refused, and counted', async () => {
    const gw = await start({ broker: { limits: { messagesPerSec: 100, burstSec: 0.2, maxThrottledSec: 1 } } })
    const flood = await rawFlood(gw.port, 'relentless')
    expect(await until(() => flood.closed, 8000)).toBe(true)
    await flood.stop()
    const b = (await gw.gateway.status()).broker
    expect(b.throttledDisconnects).toBe(1)
    expect(b.refusedThrottled).toBeGreaterThanOrEqual(1)
    expect(
      await until(async () => {
        const s = (await gw.gateway.status()).broker
        return s.stored + s.qos0Dropped === s.publishesReceived
      }),
    ).toBe(true)
    expect(gw.logs.messages('warn')).toContain('client stayed over its limits: disconnected')
    // A device within its limits meanwhile is fine.
    const device = pool.add(await connectClient(gw.url, { clientId: 'calm' }))
    await device.publishAsync('sensors/calm/t', 'ok', { qos: 1 })
  })
})

describe('the ingest bound (maxPendingBytes)', () => {
  /** Each batch write takes `ms` longer: appends pile up pending, as on a slow SD card. */
  const slowWriter =
    (ms: number): BatchWriter =>
    async (batch, options) => {
      await sleep(ms)
      await batch.write(options)
    }

  async function floodWith(maxPendingBytes: number) {
    const gw = await start(
      { broker: { limits: { messagesPerSec: 0, bytesPerSec: 0 }, maxPendingBytes } },
      { writeBatch: slowWriter(20) },
    )
    const floods = await Promise.all(Array.from({ length: 4 }, (_, i) => rawFlood(gw.port, `f${i}`)))
    let steadyPeak = 0
    await sleep(300) // past every flooder's first read, which nothing had announced
    const sampler = setInterval(() => {
      gw.gateway.status().then((s) => {
        steadyPeak = Math.max(steadyPeak, s.ingest.pendingBytes)
      })
    }, 5)
    const device = pool.add(await connectClient(gw.url, { clientId: 'steady' }))
    const t0 = performance.now()
    for (let i = 0; i < 10; i++) await device.publishAsync('sensors/steady/t', `s${i}`, { qos: 1 })
    const deviceMs = performance.now() - t0
    await sleep(1000)
    clearInterval(sampler)
    await Promise.all(floods.map((f) => f.stop()))
    const status = await gw.gateway.status()
    return { status, deviceMs, steadyPeak }
  }

  test('over the bound, the clients filling it are held until commits catch up; a device publishing one at a time is not', async () => {
    const unbounded = await floodWith(2 ** 40)
    const bound = 512 * 1024
    const bounded = await floodWith(bound)
    console.info(
      `pending peak: ${unbounded.status.ingest.pendingPeakBytes} bytes without the bound, ` +
        `${bounded.status.ingest.pendingPeakBytes} with ${bound}; after the first reads: ${unbounded.steadyPeak} vs ` +
        `${bounded.steadyPeak}; device 10 × QoS 1: ${unbounded.deviceMs.toFixed(0)} vs ${bounded.deviceMs.toFixed(0)} ms`,
    )
    expect(unbounded.status.broker.throttledPending).toBe(0)
    expect(bounded.status.broker.throttledPending).toBeGreaterThan(0)
    // Once every flooder has had its first read (taken before anything was known of it): one socket
    // read past the bound at most — a 64 KB read of small publishes counts ≈ 1.2 MB (pending-bytes.ts).
    expect(bounded.steadyPeak).toBeLessThan(bound + 1.3 * 2 ** 20)
    expect(unbounded.steadyPeak).toBeGreaterThan(2 * (bound + 1.3 * 2 ** 20))
    // The device, one reading at a time, is not held for room.
    expect(bounded.deviceMs).toBeLessThan(Math.max(1500, 3 * unbounded.deviceMs))
  })
})
