// outbox.whenFull seen from a device. reject: a QoS 1 publish the outbox refuses gets no PUBACK and its
// client is disconnected (it resends after reconnecting), counted and logged; a QoS 0 one is dropped and
// counted, local subscribers still get it. drop-oldest: every publish is acknowledged and the oldest
// records make room, counted as evicted.
import { describe, expect, test } from 'vitest'
import {
  collect,
  connectClient,
  gatewaysPerTest,
  payloadText,
  publishOutcome,
  type RunningGateway,
  readOutbox,
  until,
} from './harness.js'

const { pool, start: startGateway } = gatewaysPerTest()

function start(whenFull: 'reject' | 'drop-oldest'): Promise<RunningGateway> {
  return startGateway({ outbox: { maxMessages: 5, whenFull } })
}

describe('whenFull at the broker', () => {
  test('reject: the 6th QoS 1 publish gets no PUBACK and disconnects its client; QoS 0 is dropped and counted', async () => {
    const gw = await start('reject')
    const listener = pool.add(await connectClient(gw.url, { clientId: 'full-listener' }))
    const heard = collect(listener)
    await listener.subscribeAsync('sensors/#', { qos: 1 })

    const device = pool.add(await connectClient(gw.url, { clientId: 'full-device' }))
    for (let i = 0; i < 5; i++) {
      expect(await publishOutcome(device, 'sensors/full/telemetry', `r${i}`, { qos: 1 })).toBe('acked')
    }
    expect(await publishOutcome(device, 'sensors/full/telemetry', 'r5', { qos: 1 })).toBe('closed')
    expect(device.connected).toBe(false)

    let status = await gw.gateway.status()
    expect(status.broker.notStored).toBe(1)
    expect(status.broker.stored).toBe(5)
    expect(status.outbox.messages).toBe(5)
    expect(status.outbox.counters.rejectedMessages).toBe(1)
    const warned = gw.logs.lines.filter((l) => l.msg === 'message not stored: no PUBACK, client disconnected')
    expect(warned).toHaveLength(1)
    expect(warned[0]).toMatchObject({
      level: 'warn',
      client: 'full-device',
      topic: 'sensors/full/telemetry',
      code: 'OUTPOST_OUTBOX_FULL',
    })
    expect(heard.map((m) => m.payload)).not.toContain('r5')

    // QoS 0 while full: nothing to withhold, so it is dropped (counted) and still delivered locally.
    const q0 = pool.add(await connectClient(gw.url, { clientId: 'full-q0' }))
    q0.publish('sensors/full/telemetry', 'q0-while-full', { qos: 0 })
    expect(await until(() => heard.some((m) => m.payload === 'q0-while-full'), 5000)).toBe(true)
    status = await gw.gateway.status()
    expect(status.broker.qos0Dropped).toBe(1)
    expect(status.broker.notStored).toBe(1)
    expect(status.outbox.messages).toBe(5)
    expect(q0.connected).toBe(true)

    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4'])
  })

  test('reject: a device that reconnects and resends is refused again while the outbox stays full', async () => {
    const gw = await start('reject')
    const device = pool.add(await connectClient(gw.url, { clientId: 'resender' }))
    for (let i = 0; i < 5; i++) await device.publishAsync('sensors/x/telemetry', `r${i}`, { qos: 1 })
    expect(await publishOutcome(device, 'sensors/x/telemetry', 'r5', { qos: 1 })).toBe('closed')
    const again = pool.add(await connectClient(gw.url, { clientId: 'resender' }))
    expect(await publishOutcome(again, 'sensors/x/telemetry', 'r5', { qos: 1 })).toBe('closed')
    const status = await gw.gateway.status()
    expect(status.broker.notStored).toBe(2)
    expect(status.outbox.messages).toBe(5)
  })

  test('reject: a QoS 2 publish the outbox refuses gets no PUBREC, is not delivered locally and disconnects', async () => {
    const gw = await start('reject')
    const listener = pool.add(await connectClient(gw.url, { clientId: 'q2-listener' }))
    const heard = collect(listener)
    await listener.subscribeAsync('sensors/#', { qos: 2 })
    const device = pool.add(await connectClient(gw.url, { clientId: 'q2-full' }))
    for (let i = 0; i < 5; i++) await device.publishAsync('sensors/q2/telemetry', `r${i}`, { qos: 2 })
    expect(await publishOutcome(device, 'sensors/q2/telemetry', 'r5', { qos: 2 })).toBe('closed')
    expect(await until(() => heard.length === 5, 5000)).toBe(true)
    expect(heard.map((m) => m.payload)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4'])
    expect((await gw.gateway.status()).broker.notStored).toBe(1)
  })

  test('drop-oldest: 8 publishes are all acknowledged, the last 5 are kept and 3 are counted as evicted', async () => {
    const gw = await start('drop-oldest')
    const device = pool.add(await connectClient(gw.url, { clientId: 'evicting-device' }))
    for (let i = 0; i < 8; i++) {
      expect(await publishOutcome(device, 'sensors/evict/telemetry', `r${i}`, { qos: 1 })).toBe('acked')
    }
    expect(device.connected).toBe(true)
    const status = await gw.gateway.status()
    expect(status.outbox.messages).toBe(5)
    expect(status.outbox.counters.evicted).toBe(3)
    expect(status.broker.stored).toBe(8)
    expect(status.broker.notStored).toBe(0)

    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map(payloadText)).toEqual(['r3', 'r4', 'r5', 'r6', 'r7'])
    expect(records.map((r) => r.seq)).toEqual([4, 5, 6, 7, 8])
  })
})
