// Issue #10, item 3: "a reboot loses nothing local either". Retained messages, persistent sessions
// (clean: false) and the QoS 1/2 messages queued for them outlive a gateway stopped and started again on
// the same data dir (broker.persistence: level, the default); so does the QoS 2 bookkeeping that keeps a
// resent message from being stored twice. With broker.persistence: memory they do not (the control).
//
// A message is queued for an offline session before it goes to live subscribers (aedes's publish steps),
// so a live "watcher" receiving it is the sign that it is queued: no sleeping before the stop.
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { connect, type MqttClient } from 'mqtt'
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { afterEach, describe, expect, test } from 'vitest'
import { tempDir } from '../../helpers/tmp.js'
import {
  collect,
  connectClient,
  gatewaysPerTest,
  payloadText,
  RawMqtt,
  type Received,
  type RunningGateway,
  readOutbox,
  until,
} from './harness.js'

const { pool, start } = gatewaysPerTest()
const raws: RawMqtt[] = []
afterEach(async () => {
  await Promise.all(raws.splice(0).map((r) => r.end()))
})

const freshDataDir = () => join(tempDir('outpost-sessions-'), 'data')

/** Connects with a persistent session, collecting from the first packet on (queued ones follow CONNACK). */
async function reconnect(url: string, clientId: string): Promise<{ client: MqttClient; got: Received[] }> {
  const client = pool.add(connect(url, { clientId, clean: false, reconnectPeriod: 0, connectTimeout: 5000 }))
  const got = collect(client)
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return { client, got }
}

/** Subscribes `clientId` with a persistent session, then disconnects it (DISCONNECT: no will). */
async function subscribeAndLeave(url: string, clientId: string, filter: string, qos: 0 | 1 | 2) {
  const device = await connectClient(url, { clientId, clean: false })
  await device.subscribeAsync(filter, { qos })
  await device.endAsync()
}

/** Publishes from a clean client and waits until a live watcher of the topic has it (so it is queued). */
async function publishQueued(gw: RunningGateway, topic: string, payload: string, qos: 1 | 2) {
  const watcher = pool.add(await connectClient(gw.url, { clientId: `watcher-${payload}` }))
  const seen = collect(watcher)
  await watcher.subscribeAsync(topic, { qos: 1 })
  const publisher = pool.add(await connectClient(gw.url, { clientId: `publisher-${payload}` }))
  await publisher.publishAsync(topic, payload, { qos })
  expect(await until(() => seen.some((m) => m.payload === payload), 5000), `watcher got ${payload}`).toBe(
    true,
  )
  await Promise.all([watcher.endAsync(), publisher.endAsync()])
}

async function restart(gw: RunningGateway, overrides: Record<string, unknown> = {}): Promise<RunningGateway> {
  await gw.stop()
  return start(overrides, { dataDir: gw.dataDir })
}

describe('local sessions across a restart', () => {
  test('a retained message survives a restart; a retained message cleared before it stays cleared', async () => {
    let gw = await start({}, { dataDir: freshDataDir() })
    const device = pool.add(await connectClient(gw.url, { clientId: 'lamp' }))
    await device.publishAsync('status/lamp', 'on', { qos: 1, retain: true })
    await device.publishAsync('status/heater', 'on', { qos: 1, retain: true })
    await device.publishAsync('status/heater', '', { qos: 1, retain: true }) // [MQTT-3.3.1-10]: cleared
    await device.endAsync()

    gw = await restart(gw)
    const later = pool.add(await connectClient(gw.url, { clientId: 'dashboard' }))
    const got = collect(later)
    await later.subscribeAsync('status/#', { qos: 1 })
    expect(await until(() => got.length > 0, 5000), 'a retained message after the restart').toBe(true)
    await new Promise((r) => setTimeout(r, 200)) // the rest of the retained burst, if any
    expect(got).toEqual([{ topic: 'status/lamp', payload: 'on', qos: 1, retain: true }])
  })

  test('a persistent session survives restarts: what was queued for it in each run arrives in order, at its QoS', async () => {
    let gw = await start({}, { dataDir: freshDataDir() })
    await subscribeAndLeave(gw.url, 'valve-1', 'cmd/valve-1/#', 2)
    // One command per run: with a random broker id per run they would come back in random order.
    for (let run = 1; run <= 4; run++) {
      await publishQueued(gw, 'cmd/valve-1/set', `c${run}`, run % 2 === 0 ? 2 : 1)
      gw = await restart(gw)
    }
    await publishQueued(gw, 'cmd/valve-1/set', 'c5', 1)

    // Read raw: mqtt.js hands a QoS 2 message over only after PUBREL, so behind later QoS 1 ones.
    const device = await RawMqtt.open(gw.port, 'valve-1', { clean: false })
    raws.push(device)
    const isPublish = (p: Packet) => p.cmd === 'publish'
    await device.waitCount(isPublish, 5, 5000)
    const got = device.received.filter(isPublish) as IPublishPacket[]
    expect(got.map((m) => [m.payload.toString(), m.qos])).toEqual([
      ['c1', 1],
      ['c2', 2],
      ['c3', 1],
      ['c4', 2],
      ['c5', 1],
    ])
  })

  test('the subscription itself survives: a message published after the restart is queued for the session', async () => {
    let gw = await start({}, { dataDir: freshDataDir() })
    await subscribeAndLeave(gw.url, 'valve-2', 'cmd/valve-2/#', 1)
    gw = await restart(gw)
    await publishQueued(gw, 'cmd/valve-2/open', 'open', 1)
    const { got } = await reconnect(gw.url, 'valve-2')
    expect(await until(() => got.length > 0, 5000)).toBe(true)
    expect(got).toEqual([{ topic: 'cmd/valve-2/open', payload: 'open', qos: 1, retain: false }])
  })

  test('broker.persistence: memory: retained messages and sessions are gone after a restart', async () => {
    const memory = { broker: { persistence: 'memory' } }
    let gw = await start(memory, { dataDir: freshDataDir() })
    await subscribeAndLeave(gw.url, 'valve-3', 'cmd/valve-3/#', 1)
    const device = pool.add(await connectClient(gw.url, { clientId: 'lamp-3' }))
    await device.publishAsync('status/lamp-3', 'on', { qos: 1, retain: true })
    await device.endAsync()
    gw = await restart(gw, memory)
    await publishQueued(gw, 'cmd/valve-3/open', 'open', 1)

    const { client, got } = await reconnect(gw.url, 'valve-3')
    await client.subscribeAsync('status/#', { qos: 1 })
    await new Promise((r) => setTimeout(r, 500))
    expect(got).toEqual([])
  })

  test('a damaged session store (its manifest gone) is repaired at start, and keeps what it held', async () => {
    let gw = await start({}, { dataDir: freshDataDir(), logLevel: 'info' })
    const device = pool.add(await connectClient(gw.url, { clientId: 'lamp-4' }))
    await device.publishAsync('status/lamp-4', 'on', { qos: 1, retain: true })
    await device.endAsync()
    await gw.stop()
    const { readdirSync, rmSync } = await import('node:fs')
    const storeDir = join(gw.dataDir, 'broker')
    for (const f of readdirSync(storeDir)) if (f.startsWith('MANIFEST-')) rmSync(join(storeDir, f))

    gw = await start({}, { dataDir: gw.dataDir, logLevel: 'info' })
    expect(gw.logs.messages('warn')).toContain(
      'session store damaged: repairing it (what LevelDB cannot read is lost)',
    )
    const later = pool.add(await connectClient(gw.url, { clientId: 'dashboard-4' }))
    const got = collect(later)
    await later.subscribeAsync('status/#', { qos: 1 })
    expect(await until(() => got.length > 0, 5000)).toBe(true)
    expect(got).toEqual([{ topic: 'status/lamp-4', payload: 'on', qos: 1, retain: true }])
  })
})

describe('QoS 2 across a restart', () => {
  const publish9 = (dup: boolean): IPublishPacket => ({
    cmd: 'publish',
    topic: 'sensors/meter-9/telemetry',
    payload: Buffer.from('9.81'),
    qos: 2,
    messageId: 9,
    dup,
    retain: false,
  })
  const is = (cmd: Packet['cmd']) => (p: Packet) =>
    p.cmd === cmd && (p as { messageId?: number }).messageId === 9

  // The device got PUBREC, then the gateway went away; it resends the PUBLISH on its persistent session
  // [MQTT-4.4.0-1]. The stored incoming packet says it is the same message [MQTT-4.3.3-2]. In memory it
  // is forgotten, and stored again (the control).
  test.each([
    ['level', 1],
    ['memory', 2],
  ] as const)(
    'broker.persistence: %s: a QoS 2 message resent after a restart is stored %i time(s)',
    async (persistence, times) => {
      const overrides = { broker: { persistence } }
      let gw = await start(overrides, { dataDir: freshDataDir() })
      const first = await RawMqtt.open(gw.port, 'meter-9', { clean: false })
      raws.push(first)
      first.send(publish9(false))
      await first.next(is('pubrec'))
      await first.end()

      gw = await restart(gw, overrides)
      const second = await RawMqtt.open(gw.port, 'meter-9', { clean: false })
      raws.push(second)
      second.send(publish9(true))
      await second.next(is('pubrec'))
      second.send({ cmd: 'pubrel', messageId: 9 })
      await second.next(is('pubcomp'))
      await gw.stop()
      expect((await readOutbox(gw.dataDir)).map(payloadText)).toEqual(Array(times).fill('9.81'))
    },
  )
})

describe('session store lifecycle', () => {
  const storeDir = (gw: { dataDir: string }) => join(gw.dataDir, 'broker')

  /** Whether another handle can open the database (it cannot while the gateway holds it). */
  async function opensElsewhere(dir: string): Promise<boolean> {
    const db = new ClassicLevel(dir)
    try {
      await db.open()
      return true
    } catch {
      return false
    } finally {
      await db.close()
    }
  }

  test('held while the gateway runs; closed by stop', async () => {
    const gw = await start({}, { dataDir: freshDataDir() })
    expect(await opensElsewhere(storeDir(gw))).toBe(false)
    await gw.stop()
    expect(await opensElsewhere(storeDir(gw))).toBe(true)
  })

  test('held by someone else: start fails with OUTPOST_SESSION_STORE_LOCKED and closes what it opened', async () => {
    const dataDir = freshDataDir()
    const holder = new ClassicLevel(join(dataDir, 'broker'))
    await holder.open()
    try {
      await expect(start({}, { dataDir })).rejects.toMatchObject({ code: 'OUTPOST_SESSION_STORE_LOCKED' })
    } finally {
      await holder.close()
    }
    // The failed start closed its outbox: a new one starts on the same data dir.
    const gw = await start({}, { dataDir })
    expect(gw.gateway.listeners.length).toBe(1)
  })
})
