// Storing in the publish hook leaves normal broker behaviour intact: retained messages reach later
// subscribers with the retain flag, live subscribers get live messages at their QoS, and the outbox keeps
// the retain flag of what it stores.
import { describe, expect, test } from 'vitest'
import { collect, connectClient, gatewaysPerTest, readOutbox, until } from './harness.js'

const { pool, start } = gatewaysPerTest()

describe('local subscriptions and retained messages', () => {
  test('a retained QoS 1 message reaches a later subscriber with the retain flag', async () => {
    const gw = await start()
    const a = pool.add(await connectClient(gw.url, { clientId: 'device-a' }))
    await a.publishAsync('status/a', 'online', { qos: 1, retain: true })

    const b = pool.add(await connectClient(gw.url, { clientId: 'device-b' }))
    const got = collect(b)
    const granted = await b.subscribeAsync('status/#', { qos: 1 })
    expect(granted.map((g) => g.qos)).toEqual([1])
    expect(await until(() => got.length >= 1, 5000)).toBe(true)
    expect(got).toEqual([{ topic: 'status/a', payload: 'online', qos: 1, retain: true }])

    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map((r) => [r.topic, r.retain, r.qos])).toEqual([['status/a', true, 1]])
  })

  test('a live subscriber gets live messages at QoS 1, without the retain flag [MQTT-3.3.1-9]', async () => {
    const gw = await start()
    const sub = pool.add(await connectClient(gw.url, { clientId: 'live-sub' }))
    const got = collect(sub)
    await sub.subscribeAsync('status/#', { qos: 1 })

    const pub = pool.add(await connectClient(gw.url, { clientId: 'live-pub' }))
    for (let i = 0; i < 5; i++) await pub.publishAsync('status/live', `m${i}`, { qos: 1 })
    await pub.publishAsync('status/live', 'kept', { qos: 1, retain: true })

    expect(await until(() => got.length === 6, 5000)).toBe(true)
    expect(got.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'kept'])
    expect(got.every((m) => m.qos === 1 && m.topic === 'status/live' && !m.retain)).toBe(true)
    expect((await gw.gateway.status()).broker.stored).toBe(6)
  })
})
