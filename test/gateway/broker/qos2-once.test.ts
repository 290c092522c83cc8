// QoS 2 is stored once: the outbox gets one record per QoS 2 message however often the device sends its
// PUBLISH before PUBREL. [MQTT-4.3.3-2]: until it has received PUBREL, the receiver acknowledges any
// subsequent PUBLISH with the same packet identifier with a PUBREC and MUST NOT cause duplicate messages
// to be delivered to onward recipients — the outbox (and so the cloud) is one.
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import {
  collect,
  connectClient,
  gatewaysPerTest,
  payloadText,
  RawMqtt,
  readOutbox,
  sleep,
} from './harness.js'

const { pool, start } = gatewaysPerTest()
const raws: RawMqtt[] = []
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.end()))
})

function publish7(payload: string, dup: boolean): IPublishPacket {
  return {
    cmd: 'publish',
    topic: 'sensors/raw/telemetry',
    payload: Buffer.from(payload),
    qos: 2,
    messageId: 7,
    dup,
    retain: false,
  }
}

const is = (cmd: Packet['cmd'], messageId?: number) => (p: Packet) =>
  p.cmd === cmd && (messageId === undefined || (p as { messageId?: number }).messageId === messageId)

describe('QoS 2 is stored once', () => {
  test('a QoS 2 publish from mqtt.js gives exactly one outbox record', async () => {
    const gw = await start()
    const device = pool.add(await connectClient(gw.url, { clientId: 'qos2-device' }))
    await device.publishAsync('sensors/q2/telemetry', 'exactly-once', { qos: 2 })

    const status = await gw.gateway.status()
    expect(status.outbox.lastSeq).toBe(1)
    expect(status.outbox.messages).toBe(1)
    expect(status.broker.stored).toBe(1)

    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map((r) => [r.topic, payloadText(r), r.qos, r.origin])).toEqual([
      ['sensors/q2/telemetry', 'exactly-once', 2, 'qos2-device'],
    ])
  })

  test('a DUP retransmission after PUBREC is answered with PUBREC again and not stored again', async () => {
    const gw = await start()
    const watcher = pool.add(await connectClient(gw.url, { clientId: 'watcher' }))
    const seen = collect(watcher)
    await watcher.subscribeAsync('sensors/#', { qos: 2 })

    const raw = await RawMqtt.open(gw.port, 'raw-qos2')
    raws.push(raw)
    raw.send(publish7('once', false))
    await raw.waitCount(is('pubrec', 7), 1)
    expect((await gw.gateway.status()).outbox.lastSeq).toBe(1)

    raw.send(publish7('once', true))
    await raw.waitCount(is('pubrec', 7), 2)
    expect((await gw.gateway.status()).outbox.lastSeq).toBe(1)

    raw.send({ cmd: 'pubrel', messageId: 7 })
    await raw.next(is('pubcomp', 7))
    await sleep(200) // room for a wrongly repeated delivery to show up
    expect(raw.closed).toBe(false)

    const status = await gw.gateway.status()
    expect(status.outbox.lastSeq).toBe(1)
    expect(status.outbox.messages).toBe(1)
    expect(status.broker.stored).toBe(1)
    expect(seen.map((m) => m.payload)).toEqual(['once'])

    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    expect(records.map((r) => [payloadText(r), r.qos, r.origin])).toEqual([['once', 2, 'raw-qos2']])
  })

  // The device resends before the first copy is committed (its own retry timer, a slow fsync): both
  // copies arrive in one read, so the gateway checks the second while the first is still being stored.
  test('a DUP retransmission that arrives before PUBREC is not stored again', async () => {
    const gw = await start()
    const raw = await RawMqtt.open(gw.port, 'raw-qos2-early')
    raws.push(raw)
    raw.send(publish7('early-dup', false), publish7('early-dup', true))
    await raw.waitCount(is('pubrec', 7), 2)
    raw.send({ cmd: 'pubrel', messageId: 7 })
    await raw.next(is('pubcomp', 7))

    const status = await gw.gateway.status()
    expect(status.outbox.messages, 'records in the outbox for one QoS 2 message').toBe(1)
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(['early-dup'])
  })

  // [MQTT-4.3.3-2] is about the packet identifier, not the DUP flag: a same-id PUBLISH before PUBREL is
  // the same message even when a device forgets to set DUP.
  test('a same-id PUBLISH without DUP before PUBREL is answered with PUBREC and not stored again', async () => {
    const gw = await start()
    const raw = await RawMqtt.open(gw.port, 'raw-qos2-nodup')
    raws.push(raw)
    raw.send(publish7('no-dup-flag', false))
    await raw.waitCount(is('pubrec', 7), 1)
    raw.send(publish7('no-dup-flag', false))
    await raw.waitCount(is('pubrec', 7), 2)
    raw.send({ cmd: 'pubrel', messageId: 7 })
    await raw.next(is('pubcomp', 7))

    const status = await gw.gateway.status()
    expect(status.outbox.messages, 'records in the outbox for one QoS 2 message').toBe(1)
  })

  test('after PUBREL the same packet id starts a new message, which is stored', async () => {
    const gw = await start()
    const raw = await RawMqtt.open(gw.port, 'raw-qos2-reuse')
    raws.push(raw)
    for (const [i, text] of ['first', 'second'].entries()) {
      raw.send(publish7(text, false))
      await raw.waitCount(is('pubrec', 7), i + 1)
      raw.send({ cmd: 'pubrel', messageId: 7 })
      await raw.waitCount(is('pubcomp', 7), i + 1)
    }
    await gw.stop()
    expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(['first', 'second'])
  })
})
