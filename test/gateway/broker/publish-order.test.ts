// Order, and every message, survive the session store. aedes handles all packets of one socket read at
// once; a store on disk answers its lookups and writes in any order (LevelDB runs them on a thread pool),
// so without care a QoS 2 message's duplicate check or the write that queues a message for a persistent
// session lets a later message overtake an earlier one — in the outbox (so upstream), and on the way to
// a subscriber, where aedes then drops the overtaken one as a duplicate (its counter is below one the
// client already got). Here one device writes 200 mixed QoS 1/2 publishes in one write, under both
// broker.persistence settings; subscribers are raw sockets, to see exactly what the broker sends.
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import { gatewaysPerTest, payloadText, RawMqtt, readOutbox, until } from './harness.js'

const { start } = gatewaysPerTest()
const raws: RawMqtt[] = []
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.end()))
})

const N = 200
const TOPIC = 'sensors/order-dev/telemetry'
const packets: IPublishPacket[] = Array.from({ length: N }, (_, i) => ({
  cmd: 'publish',
  topic: TOPIC,
  payload: Buffer.from(`m${i}`),
  qos: i % 3 === 0 ? 1 : 2,
  messageId: i + 1,
  dup: false,
  retain: false,
}))
const isPublish = (p: Packet): p is IPublishPacket => p.cmd === 'publish'

/** A subscriber that acknowledges what it gets (PUBACK; PUBREC, then PUBCOMP on PUBREL). */
async function subscriber(port: number, clientId: string, clean: boolean, qos: 1 | 2): Promise<RawMqtt> {
  const raw = await RawMqtt.open(port, clientId, { clean })
  raws.push(raw)
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'sensors/#', qos }] })
  await raw.next((p) => p.cmd === 'suback')
  return raw
}

/** Acknowledges every PUBLISH and PUBREL received so far that it has not acknowledged yet. */
function acknowledge(raw: RawMqtt, done: Set<Packet>): void {
  for (const p of raw.received) {
    if (done.has(p)) continue
    done.add(p)
    const messageId = (p as { messageId?: number }).messageId as number
    if (isPublish(p) && p.qos === 1) raw.send({ cmd: 'puback', messageId })
    if (isPublish(p) && p.qos === 2) raw.send({ cmd: 'pubrec', messageId })
    if (p.cmd === 'pubrel') raw.send({ cmd: 'pubcomp', messageId })
  }
}

/** Payloads of the messages first sent at `qos`, in the order of `payloads`. */
const sentAt = (payloads: string[], qos: number) =>
  payloads.filter((m) => packets[Number(m.slice(1))]?.qos === qos)

describe('publish order with the session store', () => {
  test.each(['level', 'memory'] as const)(
    'broker.persistence: %s: 200 QoS 1/2 publishes in one read are all stored and delivered, in order per QoS [MQTT-4.6.0-6]',
    async (persistence) => {
      const gw = await start({ broker: { persistence } })
      // Online with a persistent session: each message for it is written to the store on its way.
      const persistent = await subscriber(gw.port, 'order-persistent', false, 2)
      const clean = await subscriber(gw.port, 'order-clean', true, 1)
      const device = await RawMqtt.open(gw.port, 'order-dev', { clean: false })
      raws.push(device)
      device.send(...packets)

      const acked = new Set<Packet>()
      const got = (raw: RawMqtt) => raw.received.filter(isPublish).map((p) => p.payload.toString())
      const all = await until(() => {
        acknowledge(persistent, acked)
        acknowledge(clean, acked)
        return got(persistent).length >= N && got(clean).length >= N
      }, 10_000)
      expect(all, `delivered ${got(persistent).length} and ${got(clean).length} of ${N}`).toBe(true)
      await device.waitCount((p) => p.cmd === 'puback' || p.cmd === 'pubrec', N)

      const sent = packets.map((p) => p.payload.toString())
      await gw.stop()
      const stored = (await readOutbox(gw.dataDir)).map(payloadText)
      // A QoS 1 message may pass a QoS 2 one sent before it (aedes checks QoS 2 for duplicates first).
      for (const qos of [1, 2]) {
        expect(sentAt(got(persistent), qos), `QoS ${qos} to the persistent session`).toEqual(
          sentAt(sent, qos),
        )
        expect(sentAt(got(clean), qos), `QoS ${qos} to the clean session`).toEqual(sentAt(sent, qos))
        expect(sentAt(stored, qos), `QoS ${qos} in the outbox`).toEqual(sentAt(sent, qos))
      }
    },
  )
})
