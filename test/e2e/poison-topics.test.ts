// Issue #7, items 1 and 5: nothing is acknowledged that the upstream cannot take verbatim. A topic with
// NUL, invalid UTF-8 or a character mosquitto refuses, a will topic like that, and an upstream topic
// rendered illegal (a client id `dev+1#` in `{origin}`, an empty capture) are refused at the door: no
// PUBACK, the client is disconnected, counted and logged. The proof that matters is upstream: a normal
// reading published after each of them still reaches the real mosquitto (before the fix, the first
// poisoned record stopped the forwarder for good).
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Cloud, createCloud, gatewayConfig, haveMosquitto } from '../helpers/e2e.js'
import { GatewayProcess } from '../helpers/gateway-process.js'
import { bytes, rawConnect, rawPublish } from '../helpers/raw-packets.js'
import { RawSocket } from '../helpers/raw-socket.js'
import { tempDir } from '../helpers/tmp.js'

const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00])

describe.runIf(haveMosquitto())('poison topics are refused at the door', () => {
  let cloud: Cloud
  let gw: GatewayProcess
  let good: MqttClient
  let n = 0

  beforeAll(async () => {
    const dir = tempDir('outpost-poison-')
    cloud = await createCloud(dir, true)
    gw = await GatewayProcess.start(
      dir,
      gatewayConfig(join(dir, 'data'), cloud.url, {
        http: { enabled: true, host: '127.0.0.1', port: 0 },
        routes: [
          { match: 'devices/+', to: ['cloud'], topic: 'devices/{origin}/{1}' },
          { match: 'capture/+/x', to: ['cloud'], topic: '{1}' },
          { match: '#', to: ['cloud'] },
        ],
      }),
    )
    good = await connectAsync(gw.url, { clientId: 'dev-2', reconnectPeriod: 0 })
  })
  afterAll(async () => {
    await good?.endAsync(true)
    await gw?.kill9()
    await cloud?.close()
  })

  /** A normal reading published now reaches mosquitto: the upstream is not stuck behind a poisoned one. */
  async function normalReadingArrives(
    topic = 'sensors/good/telemetry',
    upstreamTopic = topic,
  ): Promise<void> {
    const payload = `normal-${++n}`
    await good.publishAsync(topic, payload, { qos: 1 })
    await cloud.sink.waitFor(
      () => cloud.sink.messages.some((m) => m.topic === upstreamTopic && m.payload.toString() === payload),
      10_000,
      () => `"${payload}" on ${upstreamTopic} not upstream; got ${cloud.sink.messages.length} messages`,
    )
  }

  /** Connects raw, publishes `packet`, and reports whether a PUBACK came and whether we were closed. */
  async function publishRaw(clientId: string, packet: Buffer): Promise<{ acked: boolean; closed: boolean }> {
    const raw = await RawSocket.open(gw.port)
    raw.write(rawConnect(Buffer.from(clientId)))
    expect(await raw.waitBytes(4)).toBe(true)
    expect(raw.received.subarray(0, 4)).toEqual(CONNACK_OK)
    raw.write(packet)
    const closed = await raw.waitClosed(3000)
    const acked = raw.received.subarray(4).includes(0x40) // PUBACK type byte
    await raw.destroy()
    return { acked, closed }
  }

  test('a QoS 1 publish with topic bytes 61 2f 00 2f 62 (a NUL): no PUBACK, disconnected; the next reading arrives', async () => {
    const outcome = await publishRaw('nul-topic', rawPublish(bytes('a/', 0x00, '/b'), 'poison'))
    await normalReadingArrives() // first: before the fix, this is what failed (the forwarder stuck for good)
    expect(outcome).toEqual({ acked: false, closed: true })
  })

  test('a topic that is not valid UTF-8 (c3 28) is refused, not acknowledged and forwarded with U+FFFD', async () => {
    expect(await publishRaw('bad-utf8', rawPublish(bytes('a/', 0xc3, 0x28), 'poison'))).toEqual({
      acked: false,
      closed: true,
    })
    await normalReadingArrives()
  })

  test('characters mosquitto refuses (U+0001, U+0085, U+FFFF) are refused too', async () => {
    const topics = [bytes('a/', 0x01), bytes('a/', 0xc2, 0x85), bytes('a/', 0xef, 0xbf, 0xbf)]
    for (const [i, topic] of topics.entries()) {
      expect(await publishRaw(`ctl-${i}`, rawPublish(topic, 'poison'))).toEqual({
        acked: false,
        closed: true,
      })
    }
    await normalReadingArrives()
  })

  test('a will topic with a NUL: the connection is refused, and no will is stored when it goes', async () => {
    const raw = await RawSocket.open(gw.port)
    raw.write(rawConnect(Buffer.from('bad-will'), { topic: bytes('w/', 0x00), payload: Buffer.from('gone') }))
    expect(await raw.waitClosed(3000)).toBe(true)
    expect(raw.received.subarray(0, 4)).not.toEqual(CONNACK_OK)
    await normalReadingArrives()
    expect(cloud.sink.messages.map((m) => m.payload.toString())).not.toContain('gone')
  })

  test('client id dev+1# with route devices/{origin}/{1}: refused at the door; another device still gets through', async () => {
    const outcome = await publishRaw('dev+1#', rawPublish(Buffer.from('devices/t'), 'poison'))
    await normalReadingArrives('devices/t', 'devices/dev-2/t')
    expect(outcome).toEqual({ acked: false, closed: true })
  })

  test('an empty capture rendering an empty upstream topic is refused', async () => {
    expect(await publishRaw('empty-capture', rawPublish(Buffer.from('capture//x'), 'poison'))).toEqual({
      acked: false,
      closed: true,
    })
    await normalReadingArrives('capture/c1/x', 'c1')
  })

  test('each refusal is counted by reason and logged once per client; nothing poisoned went upstream', async () => {
    const status = await gw.status()
    expect(status.broker.refusedBadTopic).toBe(6) // NUL, bad UTF-8, 3 control/noncharacters, the will
    expect(status.broker.refusedUpstreamTopic).toBe(2) // dev+1#, the empty capture
    expect(cloud.sink.messages.map((m) => m.payload.toString()).filter((p) => p !== 'gone')).not.toContain(
      'poison',
    )
    const warned = gw.logs.filter((l) => l.level === 'warn')
    const perClient = (msg: string) =>
      warned.filter((l) => l.msg === msg).map((l) => (l as { client?: string }).client)
    expect(perClient('publish refused: topic not valid').sort()).toEqual(
      ['bad-utf8', 'ctl-0', 'ctl-1', 'ctl-2', 'nul-topic'].sort(),
    )
    expect(perClient('publish refused: its upstream topic would be invalid').sort()).toEqual(
      ['dev+1#', 'empty-capture'].sort(),
    )
    expect(warned.filter((l) => l.msg === 'connection refused: will topic not valid')).toHaveLength(1)
  })
})
