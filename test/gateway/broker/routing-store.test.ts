// What the broker stores: QoS 0 goes through the same path as QoS 1/2 and is stored; a message that
// matches no route stays local (not stored, still delivered to local subscribers); with no routes
// configured, everything except "$" topics is stored.
import { describe, expect, test } from 'vitest'
import { collect, connectClient, gatewaysPerTest, payloadText, readOutbox, until } from './harness.js'

const { pool, start } = gatewaysPerTest()

// A Kafka upstream is only a name to route to here: this version keeps its records in the outbox. Its
// topic is a Kafka topic name (no "/").
const ROUTED = {
  upstreams: [{ name: 'lake', type: 'kafka', brokers: ['127.0.0.1:9'] }],
  routes: [{ match: 'sensors/#', to: ['lake'], topic: 'readings' }],
}

describe('what the broker stores', () => {
  test('QoS 0 is stored like QoS 1 (same path, with its QoS)', async () => {
    const gw = await start()
    const device = pool.add(await connectClient(gw.url, { clientId: 'q0-device' }))
    device.publish('sensors/q0/telemetry', 'fire-and-forget', { qos: 0 })
    await device.publishAsync('sensors/q1/telemetry', 'acked', { qos: 1 })
    expect(await until(async () => (await gw.gateway.status()).broker.stored === 2)).toBe(true)

    const status = await gw.gateway.status()
    expect(status.broker.publishesReceived).toBe(2)
    expect(status.broker.localOnly).toBe(0)
    expect(status.outbox.messages).toBe(2)
    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map((r) => [r.topic, payloadText(r), r.qos, r.to])).toEqual([
      ['sensors/q0/telemetry', 'fire-and-forget', 0, 'all'],
      ['sensors/q1/telemetry', 'acked', 1, 'all'],
    ])
  })

  test('a message matching no route is acknowledged and delivered locally, but not stored', async () => {
    const gw = await start(ROUTED)
    const listener = pool.add(await connectClient(gw.url, { clientId: 'local-listener' }))
    const got = collect(listener)
    await listener.subscribeAsync('#', { qos: 1 })
    const device = pool.add(await connectClient(gw.url, { clientId: 'routed-device' }))

    await device.publishAsync('local/lamp/state', 'on', { qos: 1 })
    await device.publishAsync('sensors/t1/telemetry', '21.5', { qos: 1 })
    device.publish('local/lamp/state', 'off', { qos: 0 })
    expect(await until(() => got.length === 3)).toBe(true)
    expect(got.map((m) => [m.topic, m.payload])).toEqual([
      ['local/lamp/state', 'on'],
      ['sensors/t1/telemetry', '21.5'],
      ['local/lamp/state', 'off'],
    ])

    const status = await gw.gateway.status()
    expect(status.broker.localOnly).toBe(2)
    expect(status.broker.stored).toBe(1)
    expect(status.outbox.messages).toBe(1)
    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map((r) => [r.topic, payloadText(r), r.to])).toEqual([
      ['sensors/t1/telemetry', '21.5', [{ upstream: 'lake', topic: 'readings', key: undefined }]],
    ])
  })

  // (Local delivery of "$" topics is not checked here: the ACL lets no '#' subscriber read "$" topics
  // [MQTT-4.7.2-1], and anonymous clients subscribe with '#'.)
  test('with no routes, "$" topics (other than the refused $SYS/) are acknowledged but not stored', async () => {
    const gw = await start()
    const device = pool.add(await connectClient(gw.url, { clientId: 'dollar-device' }))

    await device.publishAsync('$local/diag', 'hello', { qos: 1 })
    await device.publishAsync('$local/diag', 'exactly', { qos: 2 })
    device.publish('$local/diag', 'again', { qos: 0 })
    await device.publishAsync('plain/topic', 'stored', { qos: 1 })
    expect(await until(async () => (await gw.gateway.status()).broker.localOnly === 3)).toBe(true)

    const status = await gw.gateway.status()
    expect(status.broker.stored).toBe(1)
    expect(status.outbox.messages).toBe(1)
    expect(device.connected).toBe(true)
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map((r) => r.topic)).toEqual(['plain/topic'])
  })
})
