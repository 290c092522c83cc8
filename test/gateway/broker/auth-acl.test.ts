// broker.users and per-user topic filters over real connections: CONNACK return codes for bad
// credentials [MQTT-3.2.2.3], a publish outside the user's filters disconnects without storing, a
// subscription outside them is granted 0x80 [MQTT-3.9.3], and '#' never covers $SYS/.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hashPassword } from '../../../gateway/broker/password.js'
import {
  ClientPool,
  collect,
  connectClient,
  payloadText,
  publishOutcome,
  type RunningGateway,
  readOutbox,
  startGateway,
  subscribeGranted,
  tryConnect,
  until,
} from './harness.js'

const pool = new ClientPool()
let gw: RunningGateway

beforeAll(async () => {
  const [sensorHash, adminHash] = await Promise.all([hashPassword('sensor-pw'), hashPassword('admin-pw')])
  gw = await startGateway({
    broker: {
      allowAnonymous: false,
      users: [
        {
          username: 'sensor-1',
          passwordHash: sensorHash,
          publish: ['sensors/%u/#'],
          subscribe: ['cmd/%u/#'],
        },
        { username: 'admin', passwordHash: adminHash, publish: ['#'], subscribe: ['#'] },
      ],
    },
  })
})
afterAll(async () => {
  await pool.endAll()
  await gw?.stop()
})

const returnCodeOf = async (options: Parameters<typeof tryConnect>[1]) => {
  const outcome = await tryConnect(gw.url, options)
  if (outcome.ok) {
    pool.add(outcome.client)
    return 0
  }
  return outcome.error.code
}

describe('users and ACL', () => {
  test('CONNACK refuses a wrong password and an unknown user (4) and anonymous clients (5)', async () => {
    const before = (await gw.gateway.status()).broker.authFailures
    expect(await returnCodeOf({ clientId: 'c-wrong', username: 'sensor-1', password: 'nope' })).toBe(4)
    expect(await returnCodeOf({ clientId: 'c-unknown', username: 'ghost', password: 'sensor-pw' })).toBe(4)
    expect(await returnCodeOf({ clientId: 'c-anon' })).toBe(5)
    expect(await returnCodeOf({ clientId: 'c-right', username: 'sensor-1', password: 'sensor-pw' })).toBe(0)
    // The same password again (the verified-password fast path), and a wrong one after it.
    expect(await returnCodeOf({ clientId: 'c-right2', username: 'sensor-1', password: 'sensor-pw' })).toBe(0)
    expect(await returnCodeOf({ clientId: 'c-wrong2', username: 'sensor-1', password: 'sensor-pw ' })).toBe(4)

    const status = await gw.gateway.status()
    expect(status.broker.authFailures - before).toBe(4)
    const refused = gw.logs.lines.filter((l) => l.msg === 'connection refused')
    expect(refused.map((l) => [l.username, l.reason])).toEqual([
      ['sensor-1', 'bad-credentials'],
      ['ghost', 'bad-credentials'],
      [undefined, 'anonymous'],
      ['sensor-1', 'bad-credentials'],
    ])
    // The password never reaches the log.
    expect(JSON.stringify(gw.logs.lines)).not.toContain('sensor-pw')
  })

  test('a publish outside the user’s filters disconnects it, is not stored, and is counted and logged', async () => {
    const sensor = pool.add(
      await connectClient(gw.url, { clientId: 'acl-pub', username: 'sensor-1', password: 'sensor-pw' }),
    )
    const before = await gw.gateway.status()
    expect(await publishOutcome(sensor, 'sensors/sensor-1/telemetry', 'mine', { qos: 1 })).toBe('acked')
    expect(await publishOutcome(sensor, 'sensors/sensor-2/telemetry', 'not-mine', { qos: 1 })).toBe('closed')

    const after = await gw.gateway.status()
    expect(after.broker.refusedNotAuthorized - before.broker.refusedNotAuthorized).toBe(1)
    expect(after.outbox.lastSeq - before.outbox.lastSeq).toBe(1)
    expect(gw.logs.lines.filter((l) => l.msg === 'publish refused by ACL: client disconnected')).toEqual([
      expect.objectContaining({ level: 'warn', client: 'acl-pub', topic: 'sensors/sensor-2/telemetry' }),
    ])
  })

  test('a QoS 0 publish outside the user’s filters is not delivered locally either', async () => {
    const admin = pool.add(
      await connectClient(gw.url, { clientId: 'acl-watch', username: 'admin', password: 'admin-pw' }),
    )
    const seen = collect(admin)
    await admin.subscribeAsync('sensors/#', { qos: 1 })
    const sensor = pool.add(
      await connectClient(gw.url, { clientId: 'acl-q0', username: 'sensor-1', password: 'sensor-pw' }),
    )
    sensor.publish('sensors/sensor-9/telemetry', 'forged-q0', { qos: 0 })
    expect(await until(() => !sensor.connected, 5000)).toBe(true)
    // A later message from someone allowed arrives; the forged one never did.
    await admin.publishAsync('sensors/admin/marker', 'marker', { qos: 1 })
    expect(await until(() => seen.some((m) => m.payload === 'marker'), 5000)).toBe(true)
    expect(seen.map((m) => m.payload)).not.toContain('forged-q0')
  })

  test('a subscription outside the user’s filters is granted 0x80 and counted; the client stays connected', async () => {
    const sensor = pool.add(
      await connectClient(gw.url, { clientId: 'acl-sub', username: 'sensor-1', password: 'sensor-pw' }),
    )
    const got = collect(sensor)
    const before = (await gw.gateway.status()).broker.refusedSubscriptions
    const granted = await subscribeGranted(sensor, { 'cmd/sensor-1/#': { qos: 1 }, 'sensors/#': { qos: 1 } })
    expect(granted).toEqual([1, 128])
    expect((await gw.gateway.status()).broker.refusedSubscriptions - before).toBe(1)
    expect(gw.logs.lines).toContainEqual(
      expect.objectContaining({ msg: 'subscription refused by ACL', client: 'acl-sub', topic: 'sensors/#' }),
    )
    expect(sensor.connected).toBe(true)

    // The granted subscription works; the refused one delivers nothing.
    const admin = pool.add(
      await connectClient(gw.url, { clientId: 'acl-admin', username: 'admin', password: 'admin-pw' }),
    )
    await admin.publishAsync('sensors/other/telemetry', 'not-for-sensor', { qos: 1 })
    await admin.publishAsync('cmd/sensor-1/reboot', 'now', { qos: 1 })
    expect(await until(() => got.length >= 1, 5000)).toBe(true)
    expect(got.map((m) => [m.topic, m.payload])).toEqual([['cmd/sensor-1/reboot', 'now']])
  })

  test('a user with subscribe ["#"] cannot subscribe to $SYS/#', async () => {
    const admin = pool.add(
      await connectClient(gw.url, { clientId: 'acl-sys', username: 'admin', password: 'admin-pw' }),
    )
    const before = (await gw.gateway.status()).broker.refusedSubscriptions
    const granted = await subscribeGranted(admin, {
      '$SYS/#': { qos: 0 },
      '#': { qos: 0 },
      '$SYS/broker/uptime': { qos: 0 },
    })
    expect(granted).toEqual([128, 0, 128])
    expect((await gw.gateway.status()).broker.refusedSubscriptions - before).toBe(2)
    expect(admin.connected).toBe(true)
  })

  // aedes publishes a will through the same authorizePublish hook: the ACL applies to it.
  test('a will message is published (and stored) only within the user’s publish filters', async () => {
    const admin = pool.add(
      await connectClient(gw.url, { clientId: 'will-watch', username: 'admin', password: 'admin-pw' }),
    )
    const seen = collect(admin)
    await admin.subscribeAsync('sensors/#', { qos: 1 })
    const before = await gw.gateway.status()
    const credentials = { username: 'sensor-1', password: 'sensor-pw' }
    const allowed = pool.add(
      await connectClient(gw.url, {
        clientId: 'will-ok',
        ...credentials,
        will: { topic: 'sensors/sensor-1/status', payload: Buffer.from('offline'), qos: 1, retain: false },
      }),
    )
    const forged = pool.add(
      await connectClient(gw.url, {
        clientId: 'will-forged',
        ...credentials,
        will: {
          topic: 'sensors/sensor-2/status',
          payload: Buffer.from('forged-will'),
          qos: 1,
          retain: false,
        },
      }),
    )
    // Ungraceful ends (no DISCONNECT): the broker publishes each will [MQTT-3.1.2-8].
    forged.stream.destroy()
    allowed.stream.destroy()
    expect(await until(() => seen.some((m) => m.payload === 'offline'), 5000)).toBe(true)
    expect(
      await until(
        async () =>
          (await gw.gateway.status()).broker.refusedNotAuthorized > before.broker.refusedNotAuthorized,
        5000,
      ),
    ).toBe(true)
    expect(seen.map((m) => [m.topic, m.payload])).toEqual([['sensors/sensor-1/status', 'offline']])
    const after = await gw.gateway.status()
    expect(after.broker.refusedNotAuthorized - before.broker.refusedNotAuthorized).toBe(1)
    expect(after.outbox.lastSeq - before.outbox.lastSeq).toBe(1)
  })

  test('what the allowed publishes stored carries the user’s client id as origin', async () => {
    // Runs last: stops the shared gateway to read its outbox back. Every connection counted, refused
    // ones included, is uncounted again once the clients are gone.
    await pool.endAll()
    expect(await until(async () => (await gw.gateway.status()).broker.connections === 0, 5000)).toBe(true)
    expect((await gw.gateway.status()).broker.connectionsTotal).toBeGreaterThan(0)
    await gw.stop()
    const records = await readOutbox(gw.dataDir)
    const byTopic = records.map((r) => [r.topic, payloadText(r), r.origin])
    expect(byTopic).toContainEqual(['sensors/sensor-1/telemetry', 'mine', 'acl-pub'])
    expect(byTopic.map((r) => r[1])).not.toContain('not-mine')
    expect(byTopic.map((r) => r[1])).not.toContain('forged-q0')
    expect(byTopic).toContainEqual(['sensors/sensor-1/status', 'offline', 'will-ok'])
    expect(byTopic.map((r) => r[1])).not.toContain('forged-will')
  })
})
