// What the forwarder never puts on the wire (issue #7, build item 1, forwarder side): a record whose topic
// for this upstream is not a legal MQTT topic, and one over the Maximum Packet Size of the upstream's
// CONNACK. Both are dead-lettered before sending — the upstream never sees them, the connection is never
// lost over them — and the readings around them arrive in order. A client id that is not a legal MQTT
// string only loses its outpost-origin property.
import { expect, test } from 'vitest'
import { httpGet, reading, readingsFrom, sample, seedOutbox, storeAfter } from '../../helpers/forwarding.js'
import { forwardingPerTest } from '../../helpers/forwarding-per-test.js'
import { until } from '../broker/harness.js'

const { scripted, gateway, cloud } = forwardingPerTest()

test('illegal topics are dead-lettered as bad-topic and never sent; the connection stays up', async () => {
  const bad = ['a/\u0000/b', 'a/+/b', 'a/#', 'ctl/\u0007', 'c1/\u0085', 'nc/\uffff', 'nc/\u{10fffe}']
  // (A lone surrogate cannot get this far: the store writes topics as UTF-8, which turns it into U+FFFD
  // at append — the door must refuse it; upstream-topic.test.ts covers the check itself.)
  const upstream = await scripted()
  const records = [
    reading(1),
    ...bad.map((topic, i) => reading(100 + i, { topic, payload: Buffer.from(`bad-${i}`) })),
    reading(2, { to: [{ upstream: 'cloud', topic: 'devices/dev+1#/t' }] }),
    reading(3, { to: [{ upstream: 'cloud', topic: 'sites/ok/t' }] }),
    ...readingsFrom(4, 6),
  ]
  const dataDir = await seedOutbox(records)
  const g = await gateway(dataDir, upstream.url)
  expect(await until(async () => (await cloud(g)).position === records.length)).toBe(true)
  expect(upstream.publishes.map((p) => `${p.topic} ${p.payload}`)).toEqual([
    'sensors/dev/telemetry r-1',
    'sites/ok/t r-3',
    'sensors/dev/telemetry r-4',
    'sensors/dev/telemetry r-5',
    'sensors/dev/telemetry r-6',
  ])
  expect(upstream.connections).toBe(1)
  const s = await cloud(g)
  expect(s).toMatchObject({ disconnects: 0, deadLetters: { 'bad-topic': bad.length + 1 } })
  expect(
    sample(await httpGet(g, '/metrics'), 'outpost_dead_letters_total', {
      upstream: 'cloud',
      reason: 'bad-topic',
    }),
  ).toBe(bad.length + 1)
  await g.stop()
  const after = await storeAfter(dataDir)
  expect(after.deadLetters.map((d) => d.reason)).toEqual(Array(bad.length + 1).fill('bad-topic'))
  expect(after.deadLetters.map((d) => d.record.topic)).toEqual([...bad, 'sensors/dev/telemetry'])
  expect(after.deadLetters[bad.length]?.detail).toMatch(/^topic "devices\/dev\+1#\/t": wildcard "\+"/)
})

test("a reading over the CONNACK's Maximum Packet Size is dead-lettered (too-large), not sent", async () => {
  const upstream = await scripted({ connack: { maximumPacketSize: 2000 } })
  const dataDir = await seedOutbox([
    reading(1),
    reading(2, { payload: Buffer.alloc(1900, 0x62) }), // 1,900 + topic + identity > 2,000
    reading(3, { payload: Buffer.alloc(1800, 0x63) }), // fits
    reading(4),
  ])
  const g = await gateway(dataDir, upstream.url)
  expect(await until(async () => (await cloud(g)).position === 4)).toBe(true)
  expect(upstream.seqs()).toEqual([1, 3, 4])
  await g.stop()
  const after = await storeAfter(dataDir)
  expect(after.deadLetters.map((d) => [d.record.seq, d.reason])).toEqual([[2, 'too-large']])
  expect(after.deadLetters[0]?.detail).toMatch(/^PUBLISH of 20\d\d bytes; the upstream takes at most 2000/)
})

test('a client id that is not a legal MQTT string: the reading goes without outpost-origin, counted, logged once', async () => {
  const upstream = await scripted()
  const origins: Array<string | undefined> = []
  const dataDir = await seedOutbox([
    reading(1, { origin: 'dev\u0001' }),
    reading(2, { origin: 'dev\u0001' }),
    reading(3, { origin: 'dev-ok' }),
  ])
  const g = await gateway(dataDir, upstream.url)
  expect(await until(async () => (await cloud(g)).position === 3)).toBe(true)
  for (const p of upstream.publishes) origins.push(p.origin)
  expect(origins).toEqual([undefined, undefined, 'dev-ok'])
  expect((await cloud(g)).originOmitted).toBe(2)
  expect(g.logs.lines.filter((l) => l.msg.startsWith('a client id is not a legal MQTT string'))).toHaveLength(
    1,
  )
  await g.stop()
  expect((await storeAfter(dataDir)).deadLetters).toEqual([])
})
